// Stand-alone driver for profiling the core without Python (callgrind, perf).
// Build:  g++ -O3 -march=native -g -fopenmp -Icsrc/include csrc/src/*.cpp benchmarks/profile_core.cpp -o /tmp/profile_core
// Input:  a model file and a text file "n\ncell(9 numbers)\nsymbol x y z" lines (write_system()
//         in benchmarks/profile_core.py makes one). Run: /tmp/profile_core model.kzn system.txt [steps]
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "kizuna/neighbor_list.hpp"
#include "kizuna/potential.hpp"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: profile_core model.kzn system.txt [steps]\n";
        return 2;
    }
    auto model = kizuna::Model::load(argv[1]);
    const int steps = argc > 3 ? std::stoi(argv[3]) : 3;
    std::ifstream in(argv[2]);
    int n;
    in >> n;
    double cell[9];
    for (double& c : cell) in >> c;
    std::vector<double> x(3 * n);
    std::vector<int> species(n);
    for (int i = 0; i < n; ++i) {
        std::string s;
        in >> s >> x[3 * i] >> x[3 * i + 1] >> x[3 * i + 2];
        species[i] = model->element_index(s);
    }
    const bool pbc[3] = {true, true, true};
    kizuna::NeighborList nl;
    kizuna::build_neighbor_list(n, x.data(), cell, pbc, model->cutoff, nl);
    std::vector<int> counts(n);
    for (int i = 0; i < n; ++i) counts[i] = static_cast<int>(nl.offsets[i + 1] - nl.offsets[i]);
    kizuna::Potential pot(model, 1);
    kizuna::AtomsView atoms;
    atoms.num_atoms = n;
    atoms.positions = x.data();
    atoms.species = species.data();
    kizuna::NeighborView nb;
    nb.num_centres = n;
    nb.counts = counts.data();
    nb.offsets = nl.offsets.data();
    nb.indices = nl.indices.data();
    nb.shifts = nl.shifts.data();
    std::vector<double> f(3 * n);
    kizuna::Request req;
    req.virial = true;
    double best = 1e30, best_cpu = 1e30, energy = 0.0;
    for (int s = 0; s < steps; ++s) {
        kizuna::Result res;
        res.forces = f.data();
        const std::clock_t c0 = std::clock();  // process CPU time: robust on a shared machine
        auto t0 = std::chrono::steady_clock::now();
        pot.compute(atoms, nb, req, res);
        auto t1 = std::chrono::steady_clock::now();
        const std::clock_t c1 = std::clock();
        best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
        if (s > 0 || steps == 1) best_cpu = std::min(best_cpu, double(c1 - c0) / CLOCKS_PER_SEC);
        energy = res.energy;
    }
    double fsum = 0.0;  // checksum of all force components (bitwise comparison of builds)
    for (size_t a = 0; a < f.size(); ++a) fsum += f[a] * static_cast<double>(a % 7 + 1);
    std::printf("atoms %d  energy %.10f eV  best %.4f s  %.1f us/atom  %.0f atom-steps/s  cpu %.2f us/atom  "
                "E %.17g  F %.17g\n", n, energy, best, best / n * 1e6, n / best, best_cpu / n * 1e6, energy, fsum);
    return 0;
}
