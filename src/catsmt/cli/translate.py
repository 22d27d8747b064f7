"""``catsmt translate``, ``catsmt evaluate`` and ``catsmt export``: using a trained model."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from catsmt.cli.common import UsageError, check_device, set_threads


def cmd_translate(args: argparse.Namespace) -> int:
    from catsmt.decoding.text import STREAM_CHUNK
    from catsmt.decoding.translator import load_model

    set_threads(args.threads)
    check_device(args.device)
    model = load_model(
        args.path, device=args.device, checkpoint=args.checkpoint, average_last=args.average_last,
        threads=args.threads,
    )
    # Typed at a terminal: answer each line at once; piped: translate in length-sorted chunks.
    chunk = 1 if sys.stdin.isatty() else STREAM_CHUNK
    out = sys.stdout.buffer
    lines = model.translate_stream(
        _read_stdin_lines(), src_lang=args.src_lang, tgt_lang=args.tgt_lang, beam=args.beam,
        batch_tokens=args.batch_tokens, chunk=chunk,
    )  # the pair and the settings are checked here, before stdin is read
    written = 0
    try:
        for written, line in enumerate(lines, start=1):
            out.write(line.encode("utf-8") + b"\n")
            if written % chunk == 0:  # the end of a chunk: let the reader have it now
                out.flush()
        out.flush()
    except BrokenPipeError:  # `catsmt translate ... | head`: the reader left; stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a process killed by it
    except InputLineError as e:  # the lines before the bad one are translated: hand them over
        out.flush()
        if not written:
            raise
        done = "the translation of line 1 was" if written == 1 else f"the translations of lines 1-{written} were"
        raise InputLineError(f"{e}; {done} written") from None
    return 0


class InputLineError(ValueError):
    """A line of standard input that cannot be read (not UTF-8), naming its number."""


def _read_stdin_lines() -> Iterator[str]:
    """Lines of standard input without their line ending, decoded strictly as UTF-8.

    Raises:
        InputLineError: a line that is not valid UTF-8, naming its number.
    """
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputLineError(
                f"stdin line {number} is not valid UTF-8 ({e.reason} at byte {e.start})"
            ) from None
        yield line.removesuffix("\n").removesuffix("\r")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from catsmt.evaluation.run_eval import evaluate_run, summary_text
    from catsmt.run.model_folder import is_model_folder

    set_threads(args.threads)
    check_device(args.device)
    run = Path(args.run)
    if args.src is not None or args.ref is not None or is_model_folder(run):
        return _evaluate_files(args)
    split = args.split or "test"
    decode = None
    if args.beam is not None or args.batch_tokens is not None:
        from catsmt.decoding.text import with_overrides
        from catsmt.run.inference import read_config

        base = read_config(run, args.average_last, args.checkpoint).decode
        decode = with_overrides(base, beam=args.beam, batch_tokens=args.batch_tokens)
    langs = [x.strip() for x in args.langs.split(",") if x.strip()] if args.langs is not None else None
    out = Path(args.out) if args.out else None
    result = evaluate_run(
        run, split=split, decode=decode, checkpoint=args.checkpoint,
        average_last=args.average_last, device=args.device, out=out, langs=langs,
        max_sentences=args.max_sentences,
    )
    print(summary_text(result, run.name or str(run)))
    print(f"wrote {out or run / 'eval' / f'{split}.json'}")
    return 0


def _evaluate_files(args: argparse.Namespace) -> int:
    """``catsmt evaluate MODEL --src FILE --ref FILE --src-lang X --tgt-lang Y``: translate a
    file and score it against its references with sacrebleu (as ``catsmt translate < FILE``
    then ``sacrebleu REF -i HYP -m bleu chrf`` would)."""
    import dataclasses

    from catsmt.decoding.text import with_overrides
    from catsmt.decoding.translator import load_model
    from catsmt.evaluation.scores import score_language
    from catsmt.files import write_atomic

    sources, refs = _read_file_pairs(args)
    model = load_model(
        args.run, device=args.device, checkpoint=args.checkpoint, average_last=args.average_last,
        threads=args.threads,
    )
    decode = with_overrides(model.decode, beam=args.beam, batch_tokens=args.batch_tokens)
    hyps = model.translate(
        sources, src_lang=args.src_lang, tgt_lang=args.tgt_lang, beam=decode.beam, batch_tokens=decode.batch_tokens
    )
    scores = score_language(hyps, refs)
    pair = f"{args.src_lang}-{args.tgt_lang}"
    print(f"{pair}: BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  ({scores['n']} sentences, beam {decode.beam})")
    print(f"model: {model.description} (step {model.step})")
    print(scores["signature"]["bleu"])
    print(scores["signature"]["chrf"])
    if args.out:
        out = Path(args.out)
        result = {
            "pair": pair, "src": args.src, "ref": args.ref, **scores, "model": model.description,
            "step": model.step, "decode": dataclasses.asdict(decode),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        (out.parent / "hyps").mkdir(exist_ok=True)
        write_atomic(out.parent / "hyps" / f"{out.stem}.{pair}.hyp", "".join(h + "\n" for h in hyps))
        write_atomic(out, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {out}")
    return 0


def _read_file_pairs(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The source and reference lines of ``evaluate MODEL --src FILE --ref FILE`` (the first
    ``--max-sentences``), once the flags that go with them are checked.

    Raises:
        UsageError: a missing or conflicting flag, an unreadable file, unequal line counts or
            no lines.
    """
    given = {"--src": args.src, "--ref": args.ref, "--src-lang": args.src_lang, "--tgt-lang": args.tgt_lang}
    missing = [flag for flag, value in given.items() if value is None]
    if missing:
        raise UsageError(
            f"evaluate {args.run} on files needs {', '.join(missing)}: a model folder has no held-out "
            "split (`catsmt evaluate RUN` without --src/--ref scores a run folder's own valid or test split)"
        )
    if args.split is not None or args.langs is not None:
        raise UsageError("--split and --langs choose a run's held-out data; with --src/--ref give --src-lang and --tgt-lang")
    if args.max_sentences < 0:
        raise UsageError(f"--max-sentences must be >= 0, got {args.max_sentences}")
    sources, refs = _read_text_lines(args.src, "--src"), _read_text_lines(args.ref, "--ref")
    if len(sources) != len(refs):
        raise UsageError(f"--src {args.src} has {len(sources)} lines but --ref {args.ref} has {len(refs)}")
    if args.max_sentences:
        sources, refs = sources[: args.max_sentences], refs[: args.max_sentences]
    if not sources:
        raise UsageError(f"--src {args.src} is empty: nothing to evaluate")
    return sources, refs


def _read_text_lines(path: str, flag: str) -> list[str]:
    """The lines of a UTF-8 file, without line endings.

    Raises:
        UsageError: the file cannot be read, or a line is not UTF-8 (naming it).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"{flag} {path}: {e.strerror or e}") from None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for number, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as e:
            raise UsageError(f"{flag} {path}: line {number} is not valid UTF-8 ({e.reason} at byte {e.start})") from None
    return out


def cmd_export(args: argparse.Namespace) -> int:
    from catsmt.run.export import export_model

    info = export_model(
        args.path, args.out, checkpoint=args.checkpoint, average_last=args.average_last, format=args.format
    )
    pairs = ", ".join(f"{s}-{t}" for s, t in (info.languages.pair(lang) for lang in info.languages.langs))
    print(f"wrote {args.out} ({args.format}): step {info.step}, {pairs}")
    return 0

