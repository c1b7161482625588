"""Writes the small n2p2 potential ../../CompactNarrow_HCO (compact angular narrow types 21 and
24, with a few types 22, 25 and 2 around them; random network weights) and the structure
input.data used for the nnp-predict reference (README.md). Run from the repository root:
.venv/bin/python tests/data/n2p2/reference/compact_narrow/make_potential.py

Types 21/24 (n2p2's SymFncCompAngn, SymFncCompAngnWeighted) are type 22/25 times the radial
bump of the third leg, C_r(r_jk). scaling.data needs feature statistics of the structure; they
come from kizuna's import of the potential in the order kizuna believes n2p2 uses: should that
order (or a value) be wrong, n2p2 and kizuna scale different numbers and the comparison fails.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from random_potential import make_potential  # noqa: E402

POT = HERE.parent.parent / "CompactNarrow_HCO"
SFS = ["21 H O 0.5 5.0 30.0 150.0 p2", "21 C H -5.0 5.0 60.0 180.0 p2a",
       "21 O O 0.2 4.5 0.0 120.0 p3", "21 H H 0.0 5.0 20.0 160.0 p2",
       "24 0.5 5.0 0.0 120.0 p2", "24 -5.0 5.0 60.0 180.0 p2a", "24 0.2 4.0 30.0 170.0 p4",
       "22 H C 0.5 5.0 40.0 160.0 p2", "25 -5.0 5.0 60.0 180.0 p2a", "2 O 0.3 0.0 5.0"]
HEADER = """# Small test potential with n2p2's compact angular narrow symmetry functions (types 21, 24)
# written by tests/data/n2p2/reference/compact_narrow/make_potential.py (random weights)
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
    make_potential(POT, HERE, HEADER, SFS, cell=[[7.3, 0.0, 0.0], [0.9, 7.0, 0.0], [-0.6, 1.1, 7.2]], comment="random H C O cell for the compact narrow symmetry functions test", seed=2127)
