"""On-the-fly (active) learning: MD with a committee, reference calls only where the committee
disagrees, warm-started retraining; distillation of universal potentials (docs/learning.md)."""
from .loop import Learner, learn  # noqa: F401
