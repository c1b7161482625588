// ML-KIZUNA package: registers pair_style kizuna with a LAMMPS that compiles kizuna in (LAMMPS's
// CMake collects every src/<package>/pair_*.h that mentions PAIR_CLASS into style_pair.h, which
// force.cpp includes twice: once for the class declarations, once with PAIR_CLASS defined to
// map the name "kizuna" to the class). The plugin build registers in kizuna_plugin.cpp instead.
#ifdef PAIR_CLASS
// clang-format off
PairStyle(kizuna, kizuna::lmp::PairKizuna);
// clang-format on
#else
#include "pair_kizuna.h"
#endif
