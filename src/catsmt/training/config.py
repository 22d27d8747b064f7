"""The ``train`` config section: optimisation, schedule, precision, validation and checkpoints."""

from __future__ import annotations

from dataclasses import dataclass

from catsmt.config_fields import option

BEST_METRICS = ("mean", "token_weighted", "worst", "bleu", "chrf")
#: Best-checkpoint criteria that are scores (higher is better), computed by decoding.
SCORE_METRICS = ("bleu", "chrf")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
COMPILE_BACKENDS = ("inductor", "aot_eager", "eager")  # eager and aot_eager: for debugging, no speed-up


@dataclass
class TrainConfig:
    run_dir: str = option("runs/default", "run folder: resolved config, metrics.jsonl, TensorBoard events, checkpoints/")
    seed: int = option(1, "seed of model initialisation, dropout and the batch sampler")
    device: str = option("auto", "auto (cuda when available), cpu, cuda or cuda:N")
    precision: str = option("fp32", "fp32, bf16 (autocast) or fp16 (autocast with dynamic loss scaling)")
    threads: int = option(0, "CPU threads for torch; 0 = torch's default")
    compile: bool = option(False, "run the training forward/backward under torch.compile (dynamic shapes); checkpoints, validation and analysis use the uncompiled model")
    compile_mode: str = option("default", f"torch.compile mode (inductor only) when compile is on: {', '.join(COMPILE_MODES)}")
    compile_backend: str = option("inductor", f"torch.compile backend when compile is on: {', '.join(COMPILE_BACKENDS)}")
    max_steps: int = option(1000, "optimizer updates to train for")
    max_minutes: float = option(0.0, "stop after this much wall-clock training time (0 = no limit)")
    lr: float = option(0.0015, "peak learning rate (the paper: 0.0015)")
    betas: list[float] = option([0.9, 0.98], "Adam betas (the paper: 0.9, 0.98)")
    adam_eps: float = option(1e-8, "Adam epsilon")
    weight_decay: float = option(0.0, "decoupled weight decay (AdamW); 0 = plain Adam")
    warmup_steps: int = option(4000, "linear warm-up updates before the inverse-square-root decay (the paper: 4000)")
    warmup_init_lr: float = option(1e-7, "learning rate at step 0 of the warm-up")
    label_smoothing: float = option(0.1, "label smoothing epsilon (the paper: 0.1)")
    loss_chunk: int = option(0, "> 0: compute the loss fused with the output projection, this many target positions at a time, never holding the (tokens x vocabulary) logits (saves memory with large vocabularies and batches; on our CPU 6% slower at vocab 8000); 0 = from the full logits")
    clip_norm: float = option(0.0, "clip the gradient's global L2 norm to this value; 0 = no clipping")
    accum_steps: int = option(1, "batches accumulated into one optimizer update")
    valid_every: int = option(200, "validate (per-language loss) every this many updates")
    valid_max_sentences: int = option(500, "per-language cap on validation sentences (0 = all)")
    best_metric: str = option("mean", "how the best checkpoint is chosen: from per-language valid NLL (mean, token_weighted or worst) or from the mean validation BLEU or chrF (bleu, chrf: needs valid_bleu_every = valid_every)")
    valid_bleu_every: int = option(0, "also decode the validation sentences (greedy) and log BLEU and chrF per language every this many updates, a multiple of valid_every (0 = never)")
    valid_bleu_sentences: int = option(200, "per-language cap on the sentences decoded for validation BLEU/chrF")
    log_every: int = option(20, "log training loss and weights every this many updates")
    save_every: int = option(0, "also save checkpoints/last every this many updates (0 = at validation only)")
    keep_last: int = option(2, "how many step checkpoints to keep besides best and last")
    max_bad_steps: int = option(20, "stop when this many consecutive steps have a non-finite loss or gradient")
    analysis_every: int = option(0, "measure λ_max and gradient similarity per language every this many updates (0 = off); events 'curvature' and 'gradsim' in metrics.jsonl")
    analysis_what: list[str] = option(["curvature", "gradsim"], "what analysis_every measures: curvature, gradsim and/or selfsim (each language's gradient on two disjoint batches: the noise ceiling of gradsim)")
    analysis_split: str = option("valid", "where analysis_every measures: one fixed batch per language of valid (the first length-sorted one) or of train (a fixed random sample; the paper measures on training examples)")
    tensorboard: bool = option(True, "write TensorBoard event files to the run folder")
    progress: bool = option(True, "show a progress bar with tokens/s and ETA")

    def validate(self) -> None:
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"precision must be fp32, bf16 or fp16, got '{self.precision}'")
        if self.best_metric not in BEST_METRICS:
            raise ValueError(f"best_metric must be one of {', '.join(BEST_METRICS)}, got '{self.best_metric}'")
        if self.compile_mode not in COMPILE_MODES:
            raise ValueError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, got '{self.compile_mode}'")
        if self.compile_backend not in COMPILE_BACKENDS:
            raise ValueError(f"compile_backend must be one of {', '.join(COMPILE_BACKENDS)}, got '{self.compile_backend}'")
        if self.compile_mode != "default" and self.compile_backend != "inductor":
            raise ValueError(f"compile_mode '{self.compile_mode}' needs compile_backend=inductor, got '{self.compile_backend}'")
        if self.loss_chunk < 0:
            raise ValueError(f"loss_chunk must be >= 0, got {self.loss_chunk}")
        if len(self.betas) != 2:
            raise ValueError(f"betas needs two numbers, got {self.betas}")
        for name in ("max_steps", "accum_steps", "valid_every", "log_every", "max_bad_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_minutes", "warmup_steps", "keep_last", "save_every", "clip_norm", "threads",
                     "analysis_every", "valid_max_sentences", "weight_decay", "warmup_init_lr"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        unknown = sorted(set(self.analysis_what) - {"curvature", "gradsim", "selfsim"})
        if unknown:
            raise ValueError(f"analysis_what takes curvature, gradsim and selfsim, got {', '.join(unknown)}")
        if self.analysis_split not in ("valid", "train"):
            raise ValueError(f"analysis_split must be valid or train, got '{self.analysis_split}'")
        if self.valid_bleu_every < 0 or self.valid_bleu_every % self.valid_every:
            raise ValueError(f"valid_bleu_every must be 0 or a multiple of valid_every ({self.valid_every}), got {self.valid_bleu_every}")
        if self.valid_bleu_sentences < 1:
            raise ValueError(f"valid_bleu_sentences must be >= 1, got {self.valid_bleu_sentences}")
        if self.best_metric in SCORE_METRICS and self.valid_bleu_every != self.valid_every:
            raise ValueError(f"best_metric={self.best_metric} scores every validation: set valid_bleu_every={self.valid_every} (= valid_every), got {self.valid_bleu_every}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not (self.lr > 0 and self.adam_eps > 0):
            raise ValueError(f"lr and adam_eps must be > 0, got lr={self.lr}, adam_eps={self.adam_eps}")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be in [0, 1), got {self.betas}")
