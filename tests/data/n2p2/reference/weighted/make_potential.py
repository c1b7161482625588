"""Writes the small n2p2 potential ../../Weighted_HCO (types 12, 13, 23 and 25 with a few plain
types 2 and 3; random network weights) and the structure input.data used for the nnp-predict reference
(README.md). Run from the repository root: .venv/bin/python tests/data/n2p2/reference/weighted/make_potential.py

scaling.data needs feature statistics of the structure; they come from kizuna's import of the
potential in the order kizuna believes n2p2 uses: should that order be wrong, n2p2 and kizuna
would scale different features with them and the reference comparison fails.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from random_potential import make_potential  # noqa: E402

POT = HERE.parent.parent / "Weighted_HCO"
SFS = ["12 0.5 0.0 5.0", "12 0.2 1.5 5.0", "12 1.0 2.5 5.0", "12 0.05 0.0 4.0",
       "13 0.05 0.0 1.0 1.0 5.0", "13 0.05 0.0 -1.0 2.0 5.0", "13 0.2 0.8 1.0 4.0 5.0",
       "13 0.01 0.0 -1.0 1.0 4.0", "13 0.03 0.5 1.0 2.5 5.0",
       "23 0.5 4.5 p2", "23 -5.0 5.0 p2a", "25 0.5 5.0 0.0 120.0 p2", "25 -5.0 5.0 60.0 180.0 p2a",
       "2 O 0.3 0.0 5.0", "3 H O 0.05 1.0 2.0 5.0"]
HEADER = """# Small test potential with n2p2's element-weighted symmetry functions (types 12, 13)
# written by tests/data/n2p2/reference/weighted/make_potential.py (random weights)
# Length unit     : Angstrom
# Energy unit     : eV
number_of_elements              3
elements                        H C O
cutoff_type                     6 0.1
scale_symmetry_functions
center_symmetry_functions
scale_min_short                 -1.0
scale_max_short                 1.0
global_hidden_layers_short      2
global_nodes_short              10 10
global_activation_short         t t l
"""


if __name__ == "__main__":
    make_potential(POT, HERE, HEADER, SFS, cell=[[7.6, 0.0, 0.0], [1.2, 7.1, 0.0], [-0.8, 0.9, 7.4]], comment="random H C O cell for the weighted symmetry functions test", seed=2026)
