"""Analysis of the optimization: local curvature and gradient similarity (paper Sections 4.1, 4.2.1).

- :mod:`~catsmt.analysis.curvature`: Hessian-vector products, top eigenvalue ``λ_max``
  (Figure 2, top), empirical Fisher trace ``tr(F)`` (Eq. 3), :func:`measurement_mode`.
- :mod:`~catsmt.analysis.gradsim`: gradient direction and magnitude similarity per
  parameter group and resource pairing (Figures 3 and 5a).
- :mod:`~catsmt.analysis.plots`: PNG figures of the above.
"""

from catsmt.analysis.curvature import (
    EigenResult,
    HessianOperator,
    fisher_trace,
    flatten,
    hvp,
    lanczos_eigenvalues,
    measurement_mode,
    top_eigenvalue,
    unflatten,
)
from catsmt.analysis.gradsim import (
    PAIRINGS,
    PARAM_GROUPS,
    PairingRow,
    SimilarityRow,
    aggregate_by_pairing,
    assign_groups,
    cosine,
    magnitude_similarity,
    pairing,
    similarity_by_group,
)
from catsmt.analysis.plots import plot_curves, plot_similarity_heatmap

__all__ = [
    "PAIRINGS",
    "PARAM_GROUPS",
    "EigenResult",
    "HessianOperator",
    "PairingRow",
    "SimilarityRow",
    "aggregate_by_pairing",
    "assign_groups",
    "cosine",
    "fisher_trace",
    "flatten",
    "hvp",
    "lanczos_eigenvalues",
    "magnitude_similarity",
    "measurement_mode",
    "pairing",
    "plot_curves",
    "plot_similarity_heatmap",
    "similarity_by_group",
    "top_eigenvalue",
    "unflatten",
]
