"""The methods a comparison can train, derived from the weighting registry.

A method spec names a method and, after ``+``, hyperparameters that differ from its
defaults: ``cats``, ``famo``, ``cats+alpha_lr=0.2``, ``torchjd+aggregator=upgrad``. The names
are every method of :data:`catsmt.weighting.WEIGHTINGS`, read when asked (so a plugin added
with :func:`catsmt.weighting.register` counts), plus the shorthands of the paper's static
temperatures ``t1``, ``t5`` and ``tinf``. A method's name in the report is its class's
``label`` (:func:`catsmt.weighting.label_of`); nothing here lists the methods by hand.

Kept apart from :mod:`catsmt.report.compare` (which trains) so that the report's rendering,
verdict and figures can name methods without importing the comparison.
"""

from __future__ import annotations

from catsmt.weighting import WEIGHTINGS, label_of

#: Shorthands of temperature sampling at the paper's temperatures T = 1, 5 and ∞.
TEMPERATURE_PRESETS: dict[str, str] = {"t1": "1", "t5": "5", "tinf": "inf"}
#: The proposed method; every other method counts as a baseline in the table.
PROPOSED = "cats"
#: Separates a method from its hyperparameters in a method spec: ``cats+alpha_lr=0.2``.
VARIANT_SEP = "+"


def method_presets() -> dict[str, list[str]]:
    """Every method name a comparison accepts -> the config overrides that select it."""
    presets = {
        name: ["weighting.method=temperature", f"weighting.temperature={t}"]
        for name, t in TEMPERATURE_PRESETS.items()
    }
    for name in WEIGHTINGS:
        presets.setdefault(name, [f"weighting.method={name}"])
    return presets


def preset_label(name: str) -> str:
    """The report's name of a preset: ``T=5`` for ``t5``, the class's label (``FAMO``) for a
    registered method, the name itself for anything else."""
    if name in TEMPERATURE_PRESETS:
        return f"T={TEMPERATURE_PRESETS[name]}"
    return label_of(name) if name in WEIGHTINGS else name


def split_spec(spec: str) -> tuple[str, list[str]]:
    """``"cats+alpha_lr=0.2+temperature=5"`` -> ``("cats", ["weighting.alpha_lr=0.2", ...])``."""
    base, *extra = spec.split(VARIANT_SEP)
    return base, [f"weighting.{kv}" for kv in extra]


def base_method(spec: str) -> str:
    """The preset name of a method spec (``cats`` for ``cats+alpha_lr=0.2``)."""
    return split_spec(spec)[0]


def static_temperature(spec: str) -> str | None:
    """The sampling temperature of a spec that is static temperature sampling, as written
    (``"5"`` for ``t5`` and for ``temperature+temperature=5``), or None for any other method.

    Every such spec is a point of the front that CATS is judged against, not only the
    paper's three presets.
    """
    base, extra = split_spec(spec)
    if base not in TEMPERATURE_PRESETS and base != "temperature":
        return None
    if any(not kv.startswith("weighting.temperature=") for kv in extra):
        return None
    if extra:
        return extra[-1].split("=", 1)[1]
    return TEMPERATURE_PRESETS.get(base) or str(WEIGHTINGS["temperature"].Params().temperature)


def method_label(spec: str) -> str:
    """The report's name of a method spec: ``CATS (alpha_lr=0.2)``, ``T=2`` for
    ``temperature+temperature=2``."""
    base, extra = split_spec(spec)
    if extra and static_temperature(spec) is not None:
        return f"T={static_temperature(spec)}"
    label = preset_label(base)
    return f"{label} ({', '.join(kv.split('.', 1)[1] for kv in extra)})" if extra else label


def is_proposed(spec: str) -> bool:
    """Whether a method spec is the proposed method (any variant of it)."""
    return base_method(spec) == PROPOSED


def check_methods(methods: list[str]) -> None:
    """Raise ValueError naming every spec whose method is unknown (listing the valid names)
    or whose hyperparameters are not written ``key=value``."""
    presets = method_presets()
    malformed = [m for m in methods if any("=" not in kv for kv in m.split(VARIANT_SEP)[1:])]
    if malformed:
        raise ValueError(f"method variant(s) {', '.join(malformed)}: write NAME+key=value[+key=value]")
    if not methods:
        raise ValueError(f"no method given; valid: {', '.join(presets)}")
    unknown = [m for m in methods if base_method(m) not in presets]
    if unknown:
        names = ", ".join(f"'{m}'" for m in unknown)
        raise ValueError(f"unknown method{'s' if len(unknown) > 1 else ''} {names}; valid: {', '.join(presets)}")


def parse_methods(text: str) -> list[str]:
    """``"t1,cats,cats+alpha_lr=0.2"`` -> the method specs, with a clear error for unknown
    names; ``+key=value`` after a name sets that method's hyperparameter (a variant).

    Raises:
        ValueError: an unknown or malformed spec, none at all, or one listed twice.
    """
    methods = [m.strip() for m in text.split(",") if m.strip()]
    check_methods(methods)
    if len(set(methods)) != len(methods):
        raise ValueError(f"a method is listed twice in {text!r}")
    return methods
