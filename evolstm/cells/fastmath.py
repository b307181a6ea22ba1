"""Vectorisable exp, sigmoid and tanh for Numba kernels, in float32 and float64.

llvmlite's wheel has no SVML, so ``math.exp`` and ``math.tanh`` are scalar libm calls and
any loop that contains one does not vectorise. These are branch-free instead:

* ``exp(z)``: Cody–Waite range reduction ``z = n·ln2 + r`` (|r| ≤ ln2/2; ln2 split in a
  short ``hi`` part, exact when multiplied by n, and a ``lo`` correction), then a Taylor
  polynomial of e^r (degree 13 in float64, 7 in float32), times 2^n built by writing n into
  an exponent field (a bit-cast, no ``ldexp``). n is taken from the low bits of
  ``z·log2(e) + 1.5·2^m`` (m the mantissa width), so no float→int conversion can see a NaN.
  2^n is applied as two factors 2^⌊n/2⌋·2^⌈n/2⌉ so that results near overflow and in the
  subnormal range are rounded once.
* ``sigmoid(z)``: e = exp(-|z|); 1/(1+e) for z ≥ 0, e/(1+e) otherwise (no overflow, accurate
  in both tails).
* ``tanh(z)``: sign(z)·(-m)/(2+m) with m = expm1(-2|z|), expm1 from the same reduction
  (relative accuracy near 0).

Accuracy (tests/test_fast_kernels.py): exp ≤ 2 ulp, sigmoid ≤ 3 ulp, tanh ≤ 3 ulp of the
correctly rounded value. Saturation: exp(z) = inf above log(max float), 0 below log(min
subnormal); sigmoid and tanh reach 0, ±1 exactly; NaN propagates; tanh(-0) = -0.

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
def _bits_of(typingctx, value):
    """float64 / float32 -> its bit pattern as an int64 (sign-extended from 32 bits)."""
    widths = {types.float64: 64, types.float32: 32}
    if value not in widths:
        return None
    width = widths[value]

    def codegen(context, builder, signature, args):
        import llvmlite.ir as ir

        bits = builder.bitcast(args[0], ir.IntType(width))
        return bits if width == 64 else builder.sext(bits, ir.IntType(64))

    return types.int64(value), codegen


@intrinsic
def _float_from_bits(typingctx, like, bits):
    """(a float of the wanted type, int64 bits) -> the float with those (low) bits."""
    widths = {types.float64: 64, types.float32: 32}
    if like not in widths or not isinstance(bits, types.Integer):
        return None
    width = widths[like]

    def codegen(context, builder, signature, args):
        import llvmlite.ir as ir

        value = args[1]
        if width == 32:
            value = builder.trunc(value, ir.IntType(32))
        return builder.bitcast(value, context.get_value_type(like))

    return like(like, bits), codegen


def _constants(dtype: type) -> dict:
    """Reduction constants of one dtype, as numpy scalars (typed constants in Numba)."""
    t = dtype
    if dtype is np.float64:
        return dict(
            log2e=t(1.4426950408889634), ln2_hi=t(6.93147180369123816490e-01),
            ln2_lo=t(1.90821492927058770002e-10), shift=t(6755399441055744.0),
            exp_hi=t(710.0), exp_lo=t(-746.0), em1_lo=t(-45.0), bias=1023, mant=52,
        )
    return dict(
        log2e=t(1.4426950408889634), ln2_hi=t(0.693359375), ln2_lo=t(-2.12194440e-4),
        shift=t(12582912.0), exp_hi=t(89.0), exp_lo=t(-104.0), em1_lo=t(-20.0),
        bias=127, mant=23,
    )


def _make(dtype: type):
    """Build the (exp, expm1) implementations for one dtype."""
    c = _constants(dtype)
    log2e, ln2_hi, ln2_lo, shift = c["log2e"], c["ln2_hi"], c["ln2_lo"], c["shift"]
    exp_hi, exp_lo, em1_lo = c["exp_hi"], c["exp_lo"], c["em1_lo"]
    bias, mant = c["bias"], c["mant"]
    one = dtype(1.0)
    # Taylor coefficients 1/k!, k = 2..13 (float64) or 2..7 (float32).
    k = [dtype(1.0 / np.prod(np.arange(1, n + 1, dtype=np.float64))) for n in range(2, 14)]
    c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13 = k

    if dtype is np.float64:
        @njit(**JIT_OPTIONS)
        def poly_m1(r):  # e^r - 1, |r| <= ln2/2
            q = c12 + r * c13
            q = c11 + r * q
            q = c10 + r * q
            q = c9 + r * q
            q = c8 + r * q
            q = c7 + r * q
            q = c6 + r * q
            q = c5 + r * q
            q = c4 + r * q
            q = c3 + r * q
            q = c2 + r * q
            q = one + r * q
            return r * q
    else:
        @njit(**JIT_OPTIONS)
        def poly_m1(r):
            q = c6 + r * c7
            q = c5 + r * q
            q = c4 + r * q
            q = c3 + r * q
            q = c2 + r * q
            q = one + r * q
            return r * q

    @njit(**JIT_OPTIONS)
    def reduce(z):
        """z -> (n as int64, r) with z = n·ln2 + r."""
        rounded = z * log2e + shift
        n_float = rounded - shift
        n = _bits_of(rounded) - _bits_of(shift)
        r = (z - n_float * ln2_hi) - n_float * ln2_lo
        return n, r

    @njit(**JIT_OPTIONS)
    def exp_impl(z):
        z = exp_hi if z > exp_hi else z  # comparisons written so that NaN passes through
        z = exp_lo if z < exp_lo else z
        n, r = reduce(z)
        n_low = n >> 1
        scale_low = _float_from_bits(one, (n_low + bias) << mant)
        scale_high = _float_from_bits(one, (n - n_low + bias) << mant)
        return ((one + poly_m1(r)) * scale_low) * scale_high

    @njit(**JIT_OPTIONS)
    def expm1_nonpositive_impl(x):
        """e^x - 1 for x <= 0 (NaN passes)."""
        x = em1_lo if x < em1_lo else x
        n, r = reduce(x)
        scale = _float_from_bits(one, (n + bias) << mant)
        return scale * poly_m1(r) + (scale - one)

    @njit(**JIT_OPTIONS)
    def sigmoid_impl(z):
        e = exp_impl(-abs(z))
        s = one / (one + e)
        return s if z >= 0 else e * s

    @njit(**JIT_OPTIONS)
    def tanh_impl(z):
        m = expm1_nonpositive_impl(-abs(z) - abs(z))
        t = -m / (m + one + one)
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
