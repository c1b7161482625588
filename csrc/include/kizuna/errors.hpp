// Typed errors of the core. Messages say what went wrong, where, what was found and what was
// expected. The core never prints and never exits; adapters translate these exceptions
// (Python exception classes, LAMMPS error->one/all).
#pragma once

#include <stdexcept>
#include <string>

namespace kizuna {

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A model file is malformed (message: "<file>:<line>: ...").
class ModelFormatError : public Error {
  public:
    using Error::Error;
};

// Bad input to a computation: unknown element, non-finite coordinates, degenerate cell, sizes.
class InputError : public Error {
  public:
    using Error::Error;
};

// A computation produced a non-finite number (energy, virial): the model overflows on this
// structure (e.g. a huge zeta, energy scale or offset); the result must not be used.
class NumericalError : public Error {
  public:
    using Error::Error;
};

// A feature this build does not provide (e.g. CUDA in a CPU-only build).
class UnsupportedError : public Error {
  public:
    using Error::Error;
};

}  // namespace kizuna
