// pack_model: Model -> PackedModel (packed_model.hpp), the flat layout of the CUDA backend.
#include "kizuna/packed_model.hpp"

#include <algorithm>
#include <string>

#include "kizuna/errors.hpp"

namespace kizuna {
namespace {

PackedFunction angular_function(const AngularGroup& g, size_t m) {
    const int t = g.term[m], a = g.fac[m];
    PackedFunction p;
    p.out = g.out[m];
    p.term = t;
    p.izeta = g.fac_izeta[a];
    p.d.eta = g.term_eta[t];
    p.d.rs = g.term_rs[t];
    p.d.zeta = g.fac_zeta[a];
    p.d.lambda = g.fac_lambda[a];
    p.d.prefactor = g.fac_prefactor[a];
    return p;
}

void round_to_float(PackedFunction& p) {
    p.f.eta = static_cast<float>(p.d.eta);
    p.f.rs = static_cast<float>(p.d.rs);
    p.f.zeta = static_cast<float>(p.d.zeta);
    p.f.lambda = static_cast<float>(p.d.lambda);
    p.f.prefactor = static_cast<float>(p.d.prefactor);
}

void add_group(PackedModel& pm, GroupKind kind, int e1, int e2, int cutoff, double rc,
               std::vector<PackedFunction> fns) {
    PackedGroup g;
    g.kind = static_cast<int>(kind);
    g.e1 = e1;
    g.e2 = e2;
    g.cutoff = cutoff;
    g.rc = rc;
    g.first = static_cast<int>(pm.functions.size());
    g.count = static_cast<int>(fns.size());
    for (PackedFunction& p : fns) {
        round_to_float(p);
        pm.functions.push_back(p);
    }
    pm.max_group_functions = std::max(pm.max_group_functions, g.count);
    pm.groups.push_back(g);
}

// A cutoff entry of the centre element being packed, with the weight of every neighbour element
// that multiplies its fc and fc' (channel -1: 1). Returns its index among the element's entries.
int add_cutoff(PackedModel& pm, const Model& model, PackedElement& el, const CutoffFunction& f, int channel) {
    pm.cutoffs.push_back(f);
    const int K = model.num_channels;
    for (int e = 0; e < pm.num_elements; ++e)
        pm.cutoff_weights.push_back(channel >= 0 ? model.channel_weights[static_cast<size_t>(e) * K + channel] : 1.0);
    return el.num_cutoffs++;
}

// fc = 1 for every slot (r < rc_max): the carrier of the weights of a weighted compact group
CutoffFunction unit_cutoff(double rc) { return CutoffFunction{CutoffKind::hard, rc, 0.0, 1.0 / rc, 1.0 / rc}; }

void pack_plan(PackedModel& pm, const Model& model, const ElementPlan& plan, PackedElement& el) {
    el.first_cutoff = static_cast<int>(pm.cutoffs.size());
    el.num_cutoffs = 0;
    for (size_t c = 0; c < plan.cutoffs.size(); ++c) add_cutoff(pm, model, el, plan.cutoffs[c], plan.cutoff_channel[c]);
    el.first_group = static_cast<int>(pm.groups.size());
    for (const RadialGroup& g : plan.radial) {
        std::vector<PackedFunction> fns(g.out.size());
        for (size_t m = 0; m < g.out.size(); ++m) {
            fns[m].out = g.out[m];
            fns[m].d.eta = g.eta[m];
            fns[m].d.rs = g.rs[m];
        }
        add_group(pm, GroupKind::radial, g.neighbor, g.neighbor, g.cutoff, plan.cutoffs[g.cutoff].rc, fns);
    }
    for (const CompactRadialGroup& g : plan.compact_radial) {
        std::vector<PackedFunction> fns(g.out.size());
        for (size_t m = 0; m < g.out.size(); ++m) {
            fns[m].out = g.out[m];
            fns[m].radial = g.fn[m];
        }
        const int cut = g.channel >= 0 ? add_cutoff(pm, model, el, unit_cutoff(plan.rc_max), g.channel) : -1;
        add_group(pm, GroupKind::compact_radial, g.neighbor, g.neighbor, cut, plan.rc_max, fns);
    }
    for (const AngularGroup& g : plan.angular) {
        const GroupKind kind = g.narrow ? GroupKind::angular_narrow : GroupKind::angular_wide;
        if (g.channels.empty()) {
            std::vector<PackedFunction> fns;
            for (size_t m = 0; m < g.out.size(); ++m) fns.push_back(angular_function(g, m));
            add_group(pm, kind, g.e1, g.e2, g.cutoff, g.rc, fns);
            continue;
        }
        // weighted: one group per channel, its cutoff entry weighted by the channel (members
        // stay sorted by term)
        for (size_t ci = 0; ci < g.channels.size(); ++ci) {
            std::vector<PackedFunction> fns;
            for (size_t m = 0; m < g.out.size(); ++m)
                if (g.chan[m] == static_cast<int>(ci)) fns.push_back(angular_function(g, m));
            const int cut = add_cutoff(pm, model, el, plan.cutoffs[g.cutoff], g.channels[ci]);
            add_group(pm, kind, g.e1, g.e2, cut, g.rc, fns);
        }
    }
    for (const CompactAngularGroup& g : plan.compact_angular) {
        std::vector<PackedFunction> fns(g.out.size());
        for (size_t m = 0; m < g.out.size(); ++m) {
            fns[m].out = g.out[m];
            fns[m].radial = g.radial[m];
            fns[m].angular = g.angular[m];
        }
        const int cut = g.channel >= 0 ? add_cutoff(pm, model, el, unit_cutoff(plan.rc_max), g.channel) : -1;
        add_group(pm, g.narrow ? GroupKind::compact_angular_narrow : GroupKind::compact_angular, g.e1, g.e2, cut, g.rc,
                  fns);
    }
    el.num_groups = static_cast<int>(pm.groups.size()) - el.first_group;
}

void pack_member(PackedModel& pm, const Member& mem, int num_features) {
    PackedMember pmem;
    pmem.scale_offset = mem.scale_offset;
    pmem.energy_offset = mem.energy_offset;
    pmem.energy_scale = mem.energy_scale;
    pmem.scaling = static_cast<int64_t>(pm.scale_shift.size());
    pm.scale_shift.insert(pm.scale_shift.end(), mem.scale_shift.begin(), mem.scale_shift.end());
    pm.scale_factor.insert(pm.scale_factor.end(), mem.scale_factor.begin(), mem.scale_factor.end());
    pmem.first_layer = static_cast<int>(pm.layers.size());
    pmem.num_layers = static_cast<int>(mem.layers.size());
    for (const DenseLayer& layer : mem.layers) {
        PackedLayer pl;
        pl.n_in = layer.n_in;
        pl.n_out = layer.n_out;
        pl.activation = static_cast<int>(layer.activation);
        pl.w = static_cast<int64_t>(pm.weights.size());
        pm.weights.insert(pm.weights.end(), layer.weights.begin(), layer.weights.end());
        pl.wt = static_cast<int64_t>(pm.weights.size());
        for (int i = 0; i < layer.n_in; ++i)
            for (int o = 0; o < layer.n_out; ++o)
                pm.weights.push_back(layer.weights[static_cast<size_t>(o) * layer.n_in + i]);
        pl.b = static_cast<int64_t>(pm.weights.size());
        pm.weights.insert(pm.weights.end(), layer.bias.begin(), layer.bias.end());
        pm.max_width = std::max({pm.max_width, layer.n_in, layer.n_out});
        pm.layers.push_back(pl);
    }
    pm.max_width = std::max(pm.max_width, num_features);
    pm.members.push_back(pmem);
}

}  // namespace

PackedModel pack_model(const Model& model) {
    const int ne = model.num_elements();
    if (ne > kMaxPackedElements)
        throw UnsupportedError("the CUDA backend handles at most " + std::to_string(kMaxPackedElements) +
                               " elements, this model has " + std::to_string(ne) + "; use device='cpu'");
    PackedModel pm;
    pm.num_elements = ne;
    pm.committee_size = model.committee_size;
    pm.cutoff = model.cutoff;
    for (int e = 0; e < ne; ++e) {
        const ElementModel& em = model.element_models[e];
        PackedElement el;
        el.num_features = static_cast<int>(em.sfs.size());
        el.rc_max = em.plan.rc_max;
        pack_plan(pm, model, em.plan, el);
        el.first_member = static_cast<int>(pm.members.size());
        for (const Member& mem : em.members) pack_member(pm, mem, el.num_features);
        el.first_feature = static_cast<int>(pm.extrapolation_min.size());
        pm.extrapolation_min.insert(pm.extrapolation_min.end(), em.extrapolation_min.begin(), em.extrapolation_min.end());
        pm.extrapolation_max.insert(pm.extrapolation_max.end(), em.extrapolation_max.begin(), em.extrapolation_max.end());
        pm.max_features = std::max(pm.max_features, el.num_features);
        pm.max_cutoffs = std::max(pm.max_cutoffs, el.num_cutoffs);
        pm.elements.push_back(el);
    }
    pm.weights_f.assign(pm.weights.begin(), pm.weights.end());
    pm.max_width = std::max(pm.max_width, 1);
    return pm;
}

}  // namespace kizuna
