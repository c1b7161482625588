// A PackedModel copied to the GPU once, when the engine is built; the kernels read it through
// ModelView. Read-only afterwards.
#pragma once

#include "cuda_check.cuh"
#include "kizuna/packed_model.hpp"
#include "views.cuh"

namespace kizuna::cuda {

class DeviceModel {
  public:
    void upload(const PackedModel& pm);
    const ModelView& view() const { return view_; }

  private:
    DeviceBuffer<PackedElement> elements_;
    DeviceBuffer<CutoffFunction> cutoffs_;
    DeviceBuffer<PackedGroup> groups_;
    DeviceBuffer<PackedFunction> functions_;
    DeviceBuffer<PackedMember> members_;
    DeviceBuffer<PackedLayer> layers_;
    DeviceBuffer<double> cutoff_weights_, weights_, scale_shift_, scale_factor_, extrapolation_min_, extrapolation_max_;
    DeviceBuffer<float> weights_f_;
    ModelView view_;
};

}  // namespace kizuna::cuda
