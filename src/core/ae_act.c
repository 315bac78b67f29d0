/*
 * ae_act.c — activation functions forward, first and second derivatives,
 * with PyTorch's definitions (LeakyReLU slope 0.01, ELU alpha 1).
 *
 * Shapes: B rows × n units, row-major; bias and db have n entries.
 *
 * The forward and backward passes are the elementwise half of training and
 * run once per layer per batch.  PostgreSQL builds with -O2, where GCC's
 * auto-vectoriser leaves these loops scalar, and libm's expf and tanhf are
 * calls that cannot be vectorised at all (a scalar tanhf alone costs more
 * than all the GEMMs of a small network).  So the kernels are written on
 * GCC/Clang vector extensions (ae_simd.h) in ae_act_kernels.h, compiled twice:
 * four-float vectors that every 64-bit target has (SSE2 is baseline
 * x86-64, NEON on arm64), and on x86-64 also eight-float vectors with FMA
 * for CPUs that have AVX2, chosen once at run time.  Each is deterministic;
 * the two differ in the last bits (FMA rounds once), as OpenBLAS's kernels
 * for different CPUs do.
 *
 * exp and expm1 use the classic single-precision design (range reduction
 * by ln 2 with a two-part constant, Cephes' degree-5 minimax polynomial on
 * the remainder); tanh and ELU are built on expm1, sigmoid on exp.  All are
 * accurate to a few ulp (test_nn measures them against double libm, in
 * both variants).  NaN propagates through every function, so a diverging
 * network still produces a non-finite loss.
 */
#include "ae_act.h"

#include <stdint.h>
#include <string.h>

#include "ae_simd.h"

/* 128-bit vectors: the portable variant (width 4 comes with ae_simd.h) */
#define KVL 4
#define KATTR
#define K(name) name##4
#include "ae_act_kernels.h"
#undef KVL
#undef KATTR
#undef K

#if defined(__x86_64__)
#define AE_ACT_HAVE_AVX2 1
/* 256-bit vectors with fused multiply-add */
#define KVL 8
#define KATTR __attribute__((target("avx2,fma")))
#define K(name) name##8
AE_SIMD_WIDTH(8, KATTR)
#include "ae_act_kernels.h"
#undef KVL
#undef KATTR
#undef K
#endif

typedef void (*ForwardFn) (AeActivation act, float *za, const float *bias, int B, int n);
typedef void (*BackwardFn) (AeActivation act, float *delta, const float *a, float *db,
							int B, int n);

typedef double (*ExpShiftFn) (const float *z, int n, float m, float *e);

static ForwardFn forward_fn = NULL;
static BackwardFn backward_fn = NULL;
static ExpShiftFn exp_shift_fn = NULL;
static bool force_portable = false;

static void
ChooseKernels(void)
{
#ifdef AE_ACT_HAVE_AVX2
	if (!force_portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
	{
		forward_fn = Forward8;
		backward_fn = Backward8;
		exp_shift_fn = ExpShift8;
		return;
	}
#endif
	forward_fn = Forward4;
	backward_fn = Backward4;
	exp_shift_fn = ExpShift4;
}

void
ae_act_forward(AeActivation act, float *za, const float *bias, int B, int n)
{
	if (forward_fn == NULL)
		ChooseKernels();
	forward_fn(act, za, bias, B, n);
}

void
ae_act_backward(AeActivation act, float *delta, const float *a, float *db, int B, int n)
{
	if (backward_fn == NULL)
		ChooseKernels();
	backward_fn(act, delta, a, db, B, n);
}

double
ae_exp_shift(const float *z, int n, float m, float *e)
{
	if (exp_shift_fn == NULL)
		ChooseKernels();
	return exp_shift_fn(z, n, m, e);
}

const char *
ae_act_variant(void)
{
	if (forward_fn == NULL)
		ChooseKernels();
#ifdef AE_ACT_HAVE_AVX2
	if (forward_fn == Forward8)
		return "avx2";
#endif
	return "portable";
}

void
ae_act_force_portable(bool portable)
{
	force_portable = portable;
	ChooseKernels();
}

/* ---------------------------------------------------------------- derivatives */

void
ae_act_derivs(AeActivation act, const float *a, float *d1, float *d2, size_t count)
{
	/* a, d1, d2: (count); used by the contractive penalty, off the main path */
	switch (act)
	{
		case AE_ACT_LINEAR:
			for (size_t i = 0; i < count; i++)
				d1[i] = 1.0f;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = 0.0f;
			break;
		case AE_ACT_SIGMOID:
			/* f' = a(1-a), f'' = f'(1-2a) */
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] * (1.0f - a[i]);
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = d1[i] * (1.0f - 2.0f * a[i]);
			break;
		case AE_ACT_TANH:
			/* f' = 1-a², f'' = -2a f' */
			for (size_t i = 0; i < count; i++)
				d1[i] = 1.0f - a[i] * a[i];
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = -2.0f * a[i] * d1[i];
			break;
		case AE_ACT_RELU:
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] > 0.0f ? 1.0f : 0.0f;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = 0.0f;
			break;
		case AE_ACT_LEAKY_RELU:
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] > 0.0f ? 1.0f : AE_LEAKY_SLOPE;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = 0.0f;
			break;
		case AE_ACT_ELU:
			/* below zero f' = f'' = α eᶻ = a + α; above, f' = 1, f'' = 0 */
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] > 0.0f ? 1.0f : a[i] + AE_ELU_ALPHA;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = a[i] > 0.0f ? 0.0f : a[i] + AE_ELU_ALPHA;
			break;
	}
}
