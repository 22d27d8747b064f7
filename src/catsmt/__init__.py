"""catsmt: multilingual NMT on imbalanced data with Curvature-Aware Task Scaling (CATS).

Implements Li & Gong, "Robust Optimization for Multilingual Translation with Imbalanced
Data" (NeurIPS 2021) and the methods it is compared with.
"""

__version__ = "0.1.0"
