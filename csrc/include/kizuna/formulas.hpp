// The formulas of kizuna, written once: cutoff functions, compact bump functions, activation
// functions, the angular factor. Inline, header-only, usable from CPU code and CUDA kernels
// (KZ_HD expands to __host__ __device__ under nvcc). Units: lengths in Å, angles in radians.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__CUDACC__)
#define KZ_HD __host__ __device__ __forceinline__
#define KZ_HD_INLINE KZ_HD
#else
#define KZ_HD inline
// always inlined on the CPU: the omp simd loops that call it vectorise only when it is (GCC
// stopped inlining kz_exp into the narrow triplet loop once it had more callers: water 1.19x)
#define KZ_HD_INLINE inline __attribute__((always_inline))
#endif

namespace kizuna {

// --------------------------------------------------------------------- elementary functions
// exp(x) in a form compilers vectorise (no branches, no calls); |error| <= 1 ulp.
// x = n ln2 + r with |r| <= ln2/2 (Cody-Waite with FMA), exp(r) by its Taylor series to r^13
// (remainder < 5e-18), then scaled by 2^n built in the exponent bits. exp(x < -708) = 0.
KZ_HD_INLINE double kz_exp(double x) {
#if defined(__CUDA_ARCH__)
    return ::exp(x);
#else
    // n = round(x / ln2) with the 1.5 * 2^52 shifter (no call to floor: vectorises); the low
    // bits of t then hold n as an integer.
    constexpr double shifter = 6755399441055744.0;
    double xc = x < -708.0 ? -708.0 : x;
    xc = xc > 709.0 ? 709.0 : xc;
    const double t = xc * 1.4426950408889634 + shifter;
    const double n = t - shifter;
    double r = std::fma(-n, 0.6931471805599453, xc);
    r = std::fma(-n, 2.3190468138462996e-17, r);
    double p = 1.0 / 6227020800.0;
    p = std::fma(p, r, 1.0 / 479001600.0);
    p = std::fma(p, r, 1.0 / 39916800.0);
    p = std::fma(p, r, 1.0 / 3628800.0);
    p = std::fma(p, r, 1.0 / 362880.0);
    p = std::fma(p, r, 1.0 / 40320.0);
    p = std::fma(p, r, 1.0 / 5040.0);
    p = std::fma(p, r, 1.0 / 720.0);
    p = std::fma(p, r, 1.0 / 120.0);
    p = std::fma(p, r, 1.0 / 24.0);
    p = std::fma(p, r, 1.0 / 6.0);
    p = std::fma(p, r, 0.5);
    p = std::fma(p, r, 1.0);
    p = std::fma(p, r, 1.0);
#if defined(__GNUC__)
    const int64_t ni = __builtin_bit_cast(int64_t, t) - __builtin_bit_cast(int64_t, shifter);
    const double scale = __builtin_bit_cast(double, (ni + 1023) << 52);  // 2^n
#else
    int64_t tb, sb;
    std::memcpy(&tb, &t, sizeof t);
    std::memcpy(&sb, &shifter, sizeof shifter);
    const int64_t bits = (tb - sb + 1023) << 52;
    double scale;
    std::memcpy(&scale, &bits, sizeof scale);
#endif
    const double value = x > 709.0 ? HUGE_VAL : p * scale;
    return x < -708.0 ? 0.0 : value;
#endif
}

// exp(x) in single precision (the CUDA backend's float32 mode): the library expf.
KZ_HD float kz_exp(float x) {
#if defined(__CUDA_ARCH__)
    return ::expf(x);
#else
    return std::exp(x);
#endif
}

// The formulas below are templates on the value type T: double everywhere on the CPU (the
// instantiations are the plain double code), float in the CUDA backend's float32 mode.
// Constants are written T(c) so that a float instantiation stays in float arithmetic.

// sin(y) and cos(y) for |y| <= pi/2 (Taylor series to y^23 / y^22, error < 1e-19).
template <class T>
KZ_HD void kz_sincos_half(T y, T& s, T& c) {
    const T y2 = y * y;
    T ps = T(-1.0 / 25852016738884976640000.0);               // -1/23!
    ps = std::fma(ps, y2, T(1.0 / 51090942171709440000.0));   //  1/21!
    ps = std::fma(ps, y2, T(-1.0 / 121645100408832000.0));    // -1/19!
    ps = std::fma(ps, y2, T(1.0 / 355687428096000.0));        //  1/17!
    ps = std::fma(ps, y2, T(-1.0 / 1307674368000.0));         // -1/15!
    ps = std::fma(ps, y2, T(1.0 / 6227020800.0));             //  1/13!
    ps = std::fma(ps, y2, T(-1.0 / 39916800.0));              // -1/11!
    ps = std::fma(ps, y2, T(1.0 / 362880.0));                 //  1/9!
    ps = std::fma(ps, y2, T(-1.0 / 5040.0));                  // -1/7!
    ps = std::fma(ps, y2, T(1.0 / 120.0));                    //  1/5!
    ps = std::fma(ps, y2, T(-1.0 / 6.0));                     // -1/3!
    s = std::fma(ps * y2, y, y);
    T pc = T(-1.0 / 1124000727777607680000.0);                // -1/22!
    pc = std::fma(pc, y2, T(1.0 / 2432902008176640000.0));    //  1/20!
    pc = std::fma(pc, y2, T(-1.0 / 6402373705728000.0));      // -1/18!
    pc = std::fma(pc, y2, T(1.0 / 20922789888000.0));         //  1/16!
    pc = std::fma(pc, y2, T(-1.0 / 87178291200.0));           // -1/14!
    pc = std::fma(pc, y2, T(1.0 / 479001600.0));              //  1/12!
    pc = std::fma(pc, y2, T(-1.0 / 3628800.0));               // -1/10!
    pc = std::fma(pc, y2, T(1.0 / 40320.0));                  //  1/8!
    pc = std::fma(pc, y2, T(-1.0 / 720.0));                   // -1/6!
    pc = std::fma(pc, y2, T(1.0 / 24.0));                     //  1/4!
    pc = std::fma(pc, y2, T(-0.5));                           // -1/2!
    c = std::fma(pc, y2, T(1.0));
}

// --------------------------------------------------------------------------- cutoff functions
// Same kinds and numbering as n2p2's cutoff_type. With inner radius rci = alpha * rc and
// x = (r - rci) / (rc - rci):  fc = 1 for r < rci, f(x) for rci <= r < rc, 0 for r >= rc.
enum class CutoffKind : int {
    hard = 0,   // f = 1
    cos = 1,    // f(x) = (cos(pi x) + 1) / 2
    tanhu = 2,  // fc(r) = tanh^3(1 - r/rc)                       (ignores alpha)
    tanh = 3,   // fc(r) = tanh^3(1 - r/rc) / tanh^3(1), fc(0) = 1 (ignores alpha)
    exp = 4,    // f(x) = e^(1 - 1/(1 - x^2))
    poly1 = 5,  // f(x) = (2x - 3) x^2 + 1
    poly2 = 6,  // f(x) = ((15 - 6x) x - 10) x^3 + 1
    poly3 = 7,  // f(x) = (x (x (20x - 70) + 84) - 35) x^4 + 1
    poly4 = 8,  // f(x) = (x (x ((315 - 70x) x - 540) + 420) - 126) x^5 + 1
};

// Core functions on x in [0, 1]: 1 at x = 0, 0 at x = 1 (polynomials C^n, exp C^inf).
enum class CoreKind : int { poly1 = 0, poly2 = 1, poly3 = 2, poly4 = 3, exp = 4 };

struct CutoffFunction {
    CutoffKind kind;
    double rc;         // outer radius (Å)
    double rci;        // inner radius alpha * rc (Å)
    double inv_width;  // 1 / (rc - rci)
    double inv_rc;     // 1 / rc
};

constexpr double kPi = 3.14159265358979323846;
constexpr double kE = 2.71828182845904523536;
// (1/tanh(1))^3, the normalisation of CutoffKind::tanh (n2p2's TANH_PRE)
KZ_HD double tanh_norm() {
    // 1 / tanh(1)^3 with tanh(1) = (e - 1/e) / (e + 1/e)
    const double t = (kE - 1.0 / kE) / (kE + 1.0 / kE);
    return 1.0 / (t * t * t);
}

// f(x) and df/dx of a core function, x in [0, 1]; K known at compile time (vectorisable).
template <CoreKind K, class T>
KZ_HD void core_fdf_t(T x, T& f, T& df) {
    const T x2 = x * x;
    if (K == CoreKind::poly1) {
        f = (T(2.0) * x - T(3.0)) * x2 + T(1.0);
        df = x * (T(6.0) * x - T(6.0));
    } else if (K == CoreKind::poly2) {
        f = ((T(15.0) - T(6.0) * x) * x - T(10.0)) * x * x2 + T(1.0);
        df = x2 * ((T(60.0) - T(30.0) * x) * x - T(30.0));
    } else if (K == CoreKind::poly3) {
        f = (x * (x * (T(20.0) * x - T(70.0)) + T(84.0)) - T(35.0)) * x2 * x2 + T(1.0);
        df = x2 * x * (x * (x * (T(140.0) * x - T(420.0)) + T(420.0)) - T(140.0));
    } else if (K == CoreKind::poly4) {
        f = (x * (x * ((T(315.0) - T(70.0) * x) * x - T(540.0)) + T(420.0)) - T(126.0)) * x * x2 * x2 + T(1.0);
        df = x2 * x2 * (x * (x * ((T(2520.0) - T(630.0) * x) * x - T(3780.0)) + T(2520.0)) - T(630.0));
    } else {  // exp: f = e exp(1/(x^2 - 1)), df = -2 x f / (x^2 - 1)^2; f(1) = 0
        const T t = T(1.0) / (x2 - T(1.0));
        const T e = T(kE) * kz_exp(t);
        const bool inside = x < T(1.0);
        f = inside ? e : T(0.0);
        df = inside ? T(-2.0) * x * t * t * e : T(0.0);
    }
}

template <class T>
KZ_HD void core_fdf(CoreKind kind, T x, T& f, T& df) {
    switch (kind) {
        case CoreKind::poly1: core_fdf_t<CoreKind::poly1>(x, f, df); return;
        case CoreKind::poly2: core_fdf_t<CoreKind::poly2>(x, f, df); return;
        case CoreKind::poly3: core_fdf_t<CoreKind::poly3>(x, f, df); return;
        case CoreKind::poly4: core_fdf_t<CoreKind::poly4>(x, f, df); return;
        case CoreKind::exp: core_fdf_t<CoreKind::exp>(x, f, df); return;
    }
    f = T(0.0);
    df = T(0.0);
}

// fc(r) and dfc/dr; K known at compile time. Written with selects only, so that loops over
// many distances vectorise.
template <CutoffKind K, class T>
KZ_HD_INLINE void cutoff_fdf_t(const CutoffFunction& c, T r, T& f, T& df) {
    T g, dg;
    if (K == CutoffKind::hard) {
        g = T(1.0);
        dg = T(0.0);
    } else if (K == CutoffKind::tanhu || K == CutoffKind::tanh) {
        // tanh(u) = (1 - e^-2u) / (1 + e^-2u), u = 1 - r/rc in [0, 1]
        const T e = kz_exp(T(-2.0) * (T(1.0) - r * T(c.inv_rc)));
        const T t = (T(1.0) - e) / (T(1.0) + e);
        const T t2 = t * t;
        const T norm = K == CutoffKind::tanh ? T(tanh_norm()) : T(1.0);
        g = norm * t * t2;
        dg = T(3.0) * norm * t2 * (t2 - T(1.0)) * T(c.inv_rc);
    } else {
        const T x = (r - T(c.rci)) * T(c.inv_width);
        const T xc = x < T(0.0) ? T(0.0) : (x > T(1.0) ? T(1.0) : x);
        if (K == CutoffKind::cos) {
            // cos(pi x) = -sin(y), sin(pi x) = cos(y), y = pi (x - 1/2)
            T s, co;
            kz_sincos_half(T(kPi) * (xc - T(0.5)), s, co);
            g = T(0.5) * (T(1.0) - s);
            dg = T(-0.5) * T(kPi) * T(c.inv_width) * co;
        } else {
            constexpr CoreKind core = K == CutoffKind::exp ? CoreKind::exp
                                    : K == CutoffKind::poly1 ? CoreKind::poly1
                                    : K == CutoffKind::poly2 ? CoreKind::poly2
                                    : K == CutoffKind::poly3 ? CoreKind::poly3
                                                             : CoreKind::poly4;
            core_fdf_t<core>(xc, g, dg);
            dg *= T(c.inv_width);
        }
        const bool inner = r < T(c.rci);
        g = inner ? T(1.0) : g;
        dg = inner ? T(0.0) : dg;
    }
    const bool outside = r >= T(c.rc);
    f = outside ? T(0.0) : g;
    df = outside ? T(0.0) : dg;
}

// Calls f(std::integral_constant<CutoffKind, K>{}): the kind becomes a compile-time constant
// inside a generic lambda (constexpr CutoffKind K = decltype(tag)::value).
template <class F>
KZ_HD void dispatch_cutoff(CutoffKind kind, F&& f) {
    switch (kind) {
        case CutoffKind::hard: f(std::integral_constant<CutoffKind, CutoffKind::hard>{}); return;
        case CutoffKind::cos: f(std::integral_constant<CutoffKind, CutoffKind::cos>{}); return;
        case CutoffKind::tanhu: f(std::integral_constant<CutoffKind, CutoffKind::tanhu>{}); return;
        case CutoffKind::tanh: f(std::integral_constant<CutoffKind, CutoffKind::tanh>{}); return;
        case CutoffKind::exp: f(std::integral_constant<CutoffKind, CutoffKind::exp>{}); return;
        case CutoffKind::poly1: f(std::integral_constant<CutoffKind, CutoffKind::poly1>{}); return;
        case CutoffKind::poly2: f(std::integral_constant<CutoffKind, CutoffKind::poly2>{}); return;
        case CutoffKind::poly3: f(std::integral_constant<CutoffKind, CutoffKind::poly3>{}); return;
        case CutoffKind::poly4: f(std::integral_constant<CutoffKind, CutoffKind::poly4>{}); return;
    }
}

template <class T>
KZ_HD void cutoff_fdf(const CutoffFunction& c, T r, T& f, T& df) {
    switch (c.kind) {
        case CutoffKind::hard: cutoff_fdf_t<CutoffKind::hard>(c, r, f, df); return;
        case CutoffKind::cos: cutoff_fdf_t<CutoffKind::cos>(c, r, f, df); return;
        case CutoffKind::tanhu: cutoff_fdf_t<CutoffKind::tanhu>(c, r, f, df); return;
        case CutoffKind::tanh: cutoff_fdf_t<CutoffKind::tanh>(c, r, f, df); return;
        case CutoffKind::exp: cutoff_fdf_t<CutoffKind::exp>(c, r, f, df); return;
        case CutoffKind::poly1: cutoff_fdf_t<CutoffKind::poly1>(c, r, f, df); return;
        case CutoffKind::poly2: cutoff_fdf_t<CutoffKind::poly2>(c, r, f, df); return;
        case CutoffKind::poly3: cutoff_fdf_t<CutoffKind::poly3>(c, r, f, df); return;
        case CutoffKind::poly4: cutoff_fdf_t<CutoffKind::poly4>(c, r, f, df); return;
    }
    f = T(0.0);
    df = T(0.0);
}

// ------------------------------------------------------------- compact (polynomial) functions
// n2p2's compact functions (symmetry-function types 20-22): a bump on (left, right) with
// a = |v - centre| / half_width, C(v) = core(a), or core(a (2 - a)) when asymmetric; 0 outside.
struct CompactFunction {
    CoreKind core;
    bool asymmetric;
    double left, right, centre, inv_half_width;
};

template <class T>
KZ_HD void compact_fdf(const CompactFunction& c, T v, T& f, T& df) {
    if (v <= T(c.left) || v >= T(c.right)) { f = T(0.0); df = T(0.0); return; }
    const T a = (v - T(c.centre)) * T(c.inv_half_width);
    const T sign = a < T(0.0) ? T(-1.0) : T(1.0);
    const T x = a * sign;  // |a|
    T g, dg;
    if (c.asymmetric) {
        core_fdf(c.core, (T(2.0) - x) * x, g, dg);
        dg *= T(2.0) - T(2.0) * x;
    } else {
        core_fdf(c.core, x, g, dg);
    }
    f = g;
    df = dg * sign * T(c.inv_half_width);
}

// ---------------------------------------------------------------------- activation functions
enum class Activation : int {
    linear = 0,       // y = x
    tanh,             // y = tanh x
    logistic,         // y = 1 / (1 + e^-x)
    softplus,         // y = ln(1 + e^x)
    relu,             // y = max(x, 0)
    gaussian,         // y = exp(-x^2 / 2)
    cos,              // y = cos x
    revlogistic,      // y = 1 - 1 / (1 + e^-x)
    negexp,           // y = e^-x
    harmonic,         // y = x^2
    silu,             // y = x / (1 + e^-x)
    shifted_softplus  // y = ln(1 + e^x) - ln 2
};

template <class T>
KZ_HD void activation_fdf(Activation a, T x, T& y, T& dy) {
    switch (a) {
        case Activation::linear: y = x; dy = T(1.0); return;
        case Activation::tanh: { const T t = std::tanh(x); y = t; dy = T(1.0) - t * t; return; }
        case Activation::logistic: {
            const T s = T(1.0) / (T(1.0) + std::exp(-x));
            y = s; dy = s * (T(1.0) - s); return;
        }
        case Activation::softplus:
        case Activation::shifted_softplus: {
            // stable: ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|); derivative = logistic(x)
            const T e = std::exp(-std::fabs(x));
            y = (x > T(0.0) ? x : T(0.0)) + std::log1p(e);
            dy = x >= T(0.0) ? T(1.0) / (T(1.0) + e) : e / (T(1.0) + e);
            if (a == Activation::shifted_softplus) y -= T(0.69314718055994530942);
            return;
        }
        case Activation::relu: y = x > T(0.0) ? x : T(0.0); dy = x > T(0.0) ? T(1.0) : T(0.0); return;
        case Activation::gaussian: { const T e = std::exp(T(-0.5) * x * x); y = e; dy = -x * e; return; }
        case Activation::cos: y = std::cos(x); dy = -std::sin(x); return;
        case Activation::revlogistic: {
            const T s = T(1.0) / (T(1.0) + std::exp(-x));
            y = T(1.0) - s; dy = s * (s - T(1.0)); return;
        }
        case Activation::negexp: { const T e = std::exp(-x); y = e; dy = -e; return; }
        case Activation::harmonic: y = x * x; dy = T(2.0) * x; return;
        case Activation::silu: {
            const T s = T(1.0) / (T(1.0) + std::exp(-x));
            y = x * s; dy = s * (T(1.0) + x * (T(1.0) - s)); return;
        }
    }
    y = T(0.0);
    dy = T(0.0);
}

// ------------------------------------------------------------------------- angular factor
// A(c) = 2^(1-zeta) (1 + lambda c)^zeta and dA/dc, c = cos(theta_ijk).
// izeta >= 1 marks an integer zeta (evaluated by repeated multiplication, angular_factor_int).

template <class T>
KZ_HD T int_pow(T b, int n) {
    T result = T(1.0);
    while (n > 0) {
        if (n & 1) result *= b;
        b *= b;
        n >>= 1;
    }
    return result;
}

// Integer zeta >= 1: A = pref (1 + lambda c)^zeta = pref P base, dA/dc = dpref P with
// base = 1 + lambda c, P = base^(zeta - 1) by repeated squaring, pref = 2^(1-zeta),
// dpref = pref zeta lambda. `one` is 1 in T: T may also be the CPU's 8-lane tile type
// (arithmetic only), so that the triplet list, the pair tiles and the GPU share it. No branch:
// at base <= 0 (c = -lambda up to round-off) the result is the polynomial's value there.
template <class T, class S>
KZ_HD void angular_factor_int(T base, T one, int izeta, S pref, S dpref, T& A, T& dA) {
    T P = one, b = base;
    for (int p = izeta - 1; p > 0; p >>= 1) {
        if (p & 1) P = P * b;
        if (p > 1) b = b * b;
    }
    A = pref * P * base;
    dA = dpref * P;
}

template <class T>
KZ_HD void angular_factor(T c, T zeta, int izeta, T lambda, T prefactor, T& A, T& dA) {
    const T base = T(1.0) + lambda * c;
    if (base <= T(0.0)) {  // only at c = -lambda exactly (|lambda| = 1): A = 0, dA = 0 for zeta > 1
        A = T(0.0);
        dA = (zeta == T(1.0)) ? prefactor * lambda : T(0.0);
        return;
    }
    if (izeta >= 1) {
        angular_factor_int(base, T(1.0), izeta, prefactor, prefactor * zeta * lambda, A, dA);
        return;
    }
    const T p = std::pow(base, zeta - T(1.0));
    A = prefactor * p * base;
    dA = prefactor * zeta * lambda * p;
}

}  // namespace kizuna
