// Tiles of 8 doubles for register-blocked loops (the pair and moment kernels, the network
// layers): one AVX-512 register, two AVX or four SSE2 registers. GCC / Clang vector extensions
// of the target's native width, so the tile sums stay in registers whatever -march is (a
// 64-byte vector type on a narrower target is lowered badly: 4x slower on AVX2).
#pragma once

namespace kizuna {
namespace simd8 {

#if defined(__AVX512F__)
constexpr int kWidth = 8;
#elif defined(__AVX__)
constexpr int kWidth = 4;
#else
constexpr int kWidth = 2;
#endif
constexpr int kParts = 8 / kWidth;
typedef double native __attribute__((vector_size(kWidth * sizeof(double))));
typedef double native_u __attribute__((vector_size(kWidth * sizeof(double)), aligned(8), may_alias));

struct V8 {
    native p[kParts];
    double operator[](int l) const { return p[l / kWidth][l % kWidth]; }
    void set(int l, double x) { p[l / kWidth][l % kWidth] = x; }
};

inline V8 splat(double x) {
    V8 r;
    for (int i = 0; i < kParts; ++i) r.p[i] = native{} + x;
    return r;
}
// 8 doubles from / to any address (unaligned)
inline V8 ld(const double* q) {
    V8 r;
    for (int i = 0; i < kParts; ++i) r.p[i] = *reinterpret_cast<const native_u*>(q + i * kWidth);
    return r;
}
inline void st(double* q, const V8& v) {
    for (int i = 0; i < kParts; ++i) *reinterpret_cast<native_u*>(q + i * kWidth) = v.p[i];
}
#define KZ_V8_OP(op)                                                     \
    inline V8 operator op(const V8& a, const V8& b) {                    \
        V8 r;                                                            \
        for (int i = 0; i < kParts; ++i) r.p[i] = a.p[i] op b.p[i];      \
        return r;                                                        \
    }                                                                    \
    inline V8 operator op(double a, const V8& b) {                       \
        V8 r;                                                            \
        for (int i = 0; i < kParts; ++i) r.p[i] = a op b.p[i];           \
        return r;                                                        \
    }                                                                    \
    inline V8 operator op(const V8& a, double b) {                       \
        V8 r;                                                            \
        for (int i = 0; i < kParts; ++i) r.p[i] = a.p[i] op b;           \
        return r;                                                        \
    }                                                                    \
    inline V8& operator op##=(V8& a, const V8& b) {                      \
        for (int i = 0; i < kParts; ++i) a.p[i] = a.p[i] op b.p[i];      \
        return a;                                                        \
    }
KZ_V8_OP(+)
KZ_V8_OP(-)
KZ_V8_OP(*)
#undef KZ_V8_OP

// lane sum in the tree order of an 8-lane vector reduction
inline double hsum(const V8& v) { return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7])); }

}  // namespace simd8
}  // namespace kizuna
