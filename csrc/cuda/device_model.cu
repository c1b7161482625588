// DeviceModel::upload: every array of the PackedModel to the GPU (device_model.cuh).
#include <vector>

#include "device_model.cuh"

namespace kizuna::cuda {
namespace {

template <class T>
const T* copy_up(DeviceBuffer<T>& buffer, const std::vector<T>& host, const char* what) {
    T* d = buffer.ensure(host.size() ? host.size() : 1, what);
    if (!host.empty()) check(cudaMemcpy(d, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), what);
    return d;
}

}  // namespace

void DeviceModel::upload(const PackedModel& pm) {
    ModelView v;
    v.num_elements = pm.num_elements;
    v.committee_size = pm.committee_size;
    v.max_features = pm.max_features;
    v.max_width = pm.max_width;
    v.elements = copy_up(elements_, pm.elements, "model upload (elements)");
    v.cutoffs = copy_up(cutoffs_, pm.cutoffs, "model upload (cutoffs)");
    v.cutoff_weights = copy_up(cutoff_weights_, pm.cutoff_weights, "model upload (cutoff weights)");
    v.groups = copy_up(groups_, pm.groups, "model upload (groups)");
    v.functions = copy_up(functions_, pm.functions, "model upload (functions)");
    v.members = copy_up(members_, pm.members, "model upload (members)");
    v.layers = copy_up(layers_, pm.layers, "model upload (layers)");
    v.weights = copy_up(weights_, pm.weights, "model upload (weights)");
    v.weights_f = copy_up(weights_f_, pm.weights_f, "model upload (float weights)");
    v.scale_shift = copy_up(scale_shift_, pm.scale_shift, "model upload (scaling)");
    v.scale_factor = copy_up(scale_factor_, pm.scale_factor, "model upload (scaling)");
    v.extrapolation_min = copy_up(extrapolation_min_, pm.extrapolation_min, "model upload (ranges)");
    v.extrapolation_max = copy_up(extrapolation_max_, pm.extrapolation_max, "model upload (ranges)");
    view_ = v;
}

}  // namespace kizuna::cuda
