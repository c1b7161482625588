// Names of devices and precisions (device.hpp).
#include "kizuna/device.hpp"

#include "kizuna/errors.hpp"

namespace kizuna {

Device parse_device(const std::string& name) {
    if (name == "cpu") return Device::cpu;
    if (name == "cuda" || name == "gpu") return Device::cuda;
    throw InputError("unknown device '" + name + "': expected 'cpu' or 'cuda'");
}

Precision parse_precision(const std::string& name) {
    if (name == "float64" || name == "double") return Precision::float64;
    if (name == "float32" || name == "float") return Precision::float32;
    throw InputError("unknown precision '" + name + "': expected 'float64' or 'float32'");
}

const char* to_string(Device device) { return device == Device::cuda ? "cuda" : "cpu"; }
const char* to_string(Precision precision) { return precision == Precision::float32 ? "float32" : "float64"; }

}  // namespace kizuna
