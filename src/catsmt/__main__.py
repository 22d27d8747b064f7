from catsmt.cli import main

raise SystemExit(main())
