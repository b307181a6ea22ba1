"""Vectorisable exp, sigmoid and tanh for Numba kernels, in float32 and float64.

llvmlite's wheel has no SVML, so ``math.exp`` and ``math.tanh`` are scalar libm calls and
any loop that contains one does not vectorise. These are branch-free instead:

* ``exp(z)``: Cody–Waite range reduction ``z = n·ln2 + r`` (|r| ≤ ln2/2; ln2 split in a
  short ``hi`` part, exact when multiplied by n, and a ``lo`` correction), then a polynomial
  e^r - 1 = r + r²·q(r) (degree 11 in float64, 6 in float32: a Chebyshev fit, `EXPM1_Q`,
  in Estrin's scheme: short dependency chains), times 2^n built by writing n into an
  exponent field (`_pow2`: float adds and integer ops of the float's own width, which
  vectorise on AVX2; no float→int conversion, no 64-bit arithmetic shift). 2^n is applied
  as two factors 2^n₁·2^(n-n₁), n₁ ≈ n/2, so that results near overflow and in the
  subnormal range are rounded once.
* ``sigmoid(z)``: e = exp(-|z|) (one scale factor: e is normal or flushed to 0 below
  |z| = 708, 87 in float32); 1/(1+e) for z ≥ 0, e/(1+e) otherwise (no overflow, accurate
  in both tails; σ never returns a subnormal, which would be slow in the next step).
* ``tanh(z)``: sign(z)·(-m)/(2+m) with m = expm1(-2|z|), expm1 from the same reduction
  (relative accuracy near 0).

Accuracy (tests/test_fast_kernels.py, 1.2 million arguments against x87 long double): exp
≤ 1.5 ulp, sigmoid ≤ 2.5 ulp, tanh ≤ 3 ulp of the correctly rounded value (measured: 1.05,
2.3, 2.6). Saturation: exp(z) = inf above log(max float), 0 below log(min subnormal);
sigmoid and tanh reach 0, ±1 exactly (σ flushes its subnormal range to 0); NaN propagates;
tanh(-0) = -0.

``fma(a, b, c)`` is a·b + c rounded once: a sum of two products written with it is computed
the same way in vectorised loops and scalar ones.

Call them from Numba code only (they are ``overload``\\ s, typed by their argument). Compile
the callers without LLVM's ``reassoc`` flag (``{"nsz", "contract"}`` is safe), or the ln2
split and the rounding shift are folded away; ``nnan``/``ninf`` would let NaN inputs go.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

JIT_OPTIONS = {"fastmath": {"nsz", "contract"}, "error_model": "numpy"}


@intrinsic
def _pow2(typingctx, n):
    """2^n for a float n holding an integer in the normal exponent range (same float type).

    n's bits after adding 1.5·2^m (m the mantissa width) end in n, so the exponent field
    (n + bias) << m is built with integer ops of the float's own width, which vectorise.
    """
    formats = {types.float64: (64, 52, 1023, "<d"), types.float32: (32, 23, 127, "<f")}
    if n not in formats:
        return None
    width, mant, bias, code = formats[n]

    def codegen(context, builder, signature, args):
        import struct

        import llvmlite.ir as ir

        float_type, int_type = context.get_value_type(n), ir.IntType(width)
        shift = 1.5 * 2.0**mant
        shift_bits = int.from_bytes(struct.pack(code, shift), "little")
        rounded = builder.fadd(args[0], ir.Constant(float_type, shift))
        field = builder.add(builder.bitcast(rounded, int_type),
                            ir.Constant(int_type, (bias - shift_bits) % 2**width))
        field = builder.shl(field, ir.Constant(int_type, mant))
        return builder.bitcast(field, float_type)

    return n(n), codegen


@intrinsic
def _fused(typingctx, a, b, c):
    """a·b + c rounded once (LLVM's fma, which vectorises), for three floats of one type."""
    if not (a == b == c and a in (types.float64, types.float32)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


def _constants(dtype: type) -> dict:
    """Reduction constants of one dtype, as numpy scalars (typed constants in Numba)."""
    t = dtype
    if dtype is np.float64:
        return dict(
            log2e=t(1.4426950408889634), ln2_hi=t(6.93147180369123816490e-01),
            ln2_lo=t(1.90821492927058770002e-10), shift=t(6755399441055744.0),
            exp_hi=t(710.0), exp_lo=t(-746.0), em1_lo=t(-45.0), sig_lo=t(-708.0),
        )
    return dict(
        log2e=t(1.4426950408889634), ln2_hi=t(0.693359375), ln2_lo=t(-2.12194440e-4),
        shift=t(12582912.0), exp_hi=t(89.0), exp_lo=t(-104.0), em1_lo=t(-20.0),
        sig_lo=t(-87.0),
    )


# e^r - 1 = r + r²·q(r) on |r| <= ln2/2: q's coefficients, lowest first, from mpmath's
# Chebyshev fit (`mpmath.chebyfit`, 50 digits) of (e^r - 1 - r)/r² on ±(ln2/2)(1 + 1e-4):
# 10 terms in float64 (fit error 1.1e-16 on q, ~0.1 ulp of e^r), 5 in float32 (6.5e-8).
# tests/test_fast_kernels.py refits them.
EXPM1_Q = {
    np.float64: (0.5000000000000001, 0.16666666666666669, 0.04166666666662413,
                 0.008333333333330062, 0.0013888888917213717, 0.00019841269863053618,
                 2.4801521295954376e-05, 2.7557268459997064e-06, 2.7620088445409746e-07,
                 2.510038549551032e-08),
    np.float32: (0.5, 0.16666576989698775, 0.041666554617204574, 0.008363179052722578,
                 0.0013926183587713494),
}


def _make(dtype: type):
    """Build the (exp, sigmoid, tanh) implementations for one dtype."""
    c = _constants(dtype)
    log2e, ln2_hi, ln2_lo, shift = c["log2e"], c["ln2_hi"], c["ln2_lo"], c["shift"]
    exp_hi, exp_lo, em1_lo, sig_lo = c["exp_hi"], c["exp_lo"], c["em1_lo"], c["sig_lo"]
    one, zero = dtype(1.0), dtype(0.0)
    half, minus_two = dtype(0.5), dtype(-2.0)
    q = tuple(dtype(value) for value in EXPM1_Q[dtype])

    if dtype is np.float64:
        q0, q1, q2, q3, q4, q5, q6, q7, q8, q9 = q

        @njit(**JIT_OPTIONS)
        def poly_m1(r):  # e^r - 1, |r| <= ln2/2, in Estrin's scheme (short dependency chains)
            r2 = r * r
            r4 = r2 * r2
            low = (q0 + r * q1) + r2 * (q2 + r * q3)
            mid = (q4 + r * q5) + r2 * (q6 + r * q7)
            return r + r2 * ((low + r4 * mid) + (r4 * r4) * (q8 + r * q9))
    else:
        q0, q1, q2, q3, q4 = q

        @njit(**JIT_OPTIONS)
        def poly_m1(r):
            r2 = r * r
            return r + r2 * (((q0 + r * q1) + r2 * (q2 + r * q3)) + (r2 * r2) * q4)

    @njit(**JIT_OPTIONS)
    def reduce(z):
        """z -> (n, r) with z = n·ln2 + r, n an integer held in a float."""
        n = (z * log2e + shift) - shift
        return n, (z - n * ln2_hi) - n * ln2_lo

    @njit(**JIT_OPTIONS)
    def exp_impl(z):
        z = exp_hi if z > exp_hi else z  # comparisons written so that NaN passes through
        z = exp_lo if z < exp_lo else z
        n, r = reduce(z)
        n_low = (n * half + shift) - shift
        return ((one + poly_m1(r)) * _pow2(n_low)) * _pow2(n - n_low)

    @njit(**JIT_OPTIONS)
    def expm1_nonpositive_impl(x):
        """e^x - 1 for x <= 0 (NaN passes)."""
        x = em1_lo if x < em1_lo else x
        n, r = reduce(x)
        scale = _pow2(n)
        return scale * poly_m1(r) + (scale - one)

    @njit(**JIT_OPTIONS)
    def sigmoid_impl(z):
        a = -abs(z)
        n, r = reduce(sig_lo if a < sig_lo else a)  # e^a normal: one scale factor will do
        e = zero if a < sig_lo else (one + poly_m1(r)) * _pow2(n)  # flush σ's subnormals
        return (one if z >= 0 else e) / (one + e)

    @njit(**JIT_OPTIONS)
    def tanh_impl(z):
        m = expm1_nonpositive_impl(abs(z) * minus_two)
        t = m / (minus_two - m)  # = -m / (2 + m)
        return -t if z < 0 else t

    return exp_impl, sigmoid_impl, tanh_impl


_IMPLS = {types.float64: _make(np.float64), types.float32: _make(np.float32)}


def exp(z):
    """e^z (Numba only; float32 or float64 scalar)."""
    raise NotImplementedError("fastmath.exp is for Numba-compiled code")


def sigmoid(z):
    """1 / (1 + e^-z) (Numba only)."""
    raise NotImplementedError("fastmath.sigmoid is for Numba-compiled code")


def tanh(z):
    """tanh(z) (Numba only)."""
    raise NotImplementedError("fastmath.tanh is for Numba-compiled code")


def fma(a, b, c):
    """a·b + c with one rounding (Numba only; three scalars of one float type).

    With LLVM's ``contract`` flag, a·b + c·d may become fma(a, b, c·d) or fma(c, d, a·b), and
    LLVM does not always choose alike in a vectorised loop and in its scalar remainder; an
    explicit fma makes the result the same in both.
    """
    raise NotImplementedError("fastmath.fma is for Numba-compiled code")


@overload(fma, jit_options=JIT_OPTIONS)
def _fma_typed(a, b, c):
    if a == b == c and a in (types.float64, types.float32):
        return lambda a, b, c: _fused(a, b, c)
    return None


def _register(stub, index: int) -> None:
    @overload(stub, jit_options=JIT_OPTIONS)
    def _typed(z):
        impls = _IMPLS.get(z)
        if impls is None:
            return None
        compiled = impls[index]
        return lambda z: compiled(z)


_register(exp, 0)
_register(sigmoid, 1)
_register(tanh, 2)
