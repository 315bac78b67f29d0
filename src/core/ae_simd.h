/*
 * ae_simd.h — the one way the core writes SIMD: GCC/Clang vector
 * extensions, a vector type and its helpers per width.
 *
 * PostgreSQL compiles extensions with -O2, where GCC's auto-vectoriser
 * leaves loops with selects or unknown trip counts scalar, and libm calls
 * (expf, tanhf, sqrtf with errno) are not vectorised at all.  The
 * elementwise passes of training are a large share of a step on small
 * networks, so they are written on vectors here.
 *
 *   AE_SIMD_WIDTH(W, ATTR) defines, for W floats per vector:
 *     AeVfW, AeViW            float and int32 vectors
 *     AeLoadW, AeStoreW       unaligned loads and stores (memcpy: no
 *                             alignment or aliasing assumption)
 *     AeLoadPartW, AeStorePartW  the first k < W floats, other lanes zero
 *     AeSelectW(mask, a, b)   mask ? a : b lane by lane (lanes all ones or zeros)
 *     AeAbsW, AeCopySignW     sign-bit operations
 *   every function carrying ATTR (a target ISA, or nothing) and always
 *   inlined, so that vectors never cross a real function boundary and no
 *   calling convention depends on the width.
 *
 * Width 4 is defined here for everyone: four floats are one register on
 * every 64-bit target (SSE2 is baseline x86-64, NEON on arm64), no -m
 * flags, no ABI issue.  A file with an AVX2 variant instantiates width 8
 * itself with __attribute__((target("avx2,fma"))) and picks the variant at
 * run time (ae_act.c, ae_infer.c).  Not part of the core's interface.
 */
#ifndef AE_SIMD_H
#define AE_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif

/* A vector of type T with every lane c. */
#define AE_SPLAT(T, c) ((T) {0} + (c))

#define AE_SIMD_WIDTH(W, ATTR) \
typedef float AeVf##W __attribute__((vector_size((W) * 4))); \
typedef int32_t AeVi##W __attribute__((vector_size((W) * 4))); \
\
ATTR static inline __attribute__((always_inline, unused)) AeVf##W \
AeLoad##W(const float *p) \
{ \
	AeVf##W		v; \
	\
	memcpy(&v, p, sizeof(v)); \
	return v; \
} \
\
ATTR static inline __attribute__((always_inline, unused)) void \
AeStore##W(float *p, AeVf##W v) \
{ \
	memcpy(p, &v, sizeof(v)); \
} \
\
ATTR static inline __attribute__((always_inline, unused)) AeVf##W \
AeLoadPart##W(const float *p, int k) \
{ \
	AeVf##W		v = {0}; \
	\
	memcpy(&v, p, sizeof(float) * k); \
	return v; \
} \
\
ATTR static inline __attribute__((always_inline, unused)) void \
AeStorePart##W(float *p, AeVf##W v, int k) \
{ \
	memcpy(p, &v, sizeof(float) * k); \
} \
\
ATTR static inline __attribute__((always_inline, unused)) AeVf##W \
AeSelect##W(AeVi##W mask, AeVf##W a, AeVf##W b) \
{ \
	return (AeVf##W) (((AeVi##W) a & mask) | ((AeVi##W) b & ~mask)); \
} \
\
ATTR static inline __attribute__((always_inline, unused)) AeVf##W \
AeAbs##W(AeVf##W x) \
{ \
	return (AeVf##W) ((AeVi##W) x & 0x7fffffff); \
} \
\
/* |t| carrying the sign of s */ \
ATTR static inline __attribute__((always_inline, unused)) AeVf##W \
AeCopySign##W(AeVf##W t, AeVf##W s) \
{ \
	return (AeVf##W) (((AeVi##W) t & 0x7fffffff) | ((AeVi##W) s & (int32_t) 0x80000000)); \
}

AE_SIMD_WIDTH(4, )

/* Four doubles (the AVX2 variants widen float differences into them). */
typedef double AeVd4 __attribute__((vector_size(32)));

/* Lanes of v added in double, in a fixed order. */
static inline double
AeSum4(AeVf4 v)
{
	return ((double) v[0] + (double) v[1]) + ((double) v[2] + (double) v[3]);
}

/*
 * Correctly rounded square root of each lane: the same IEEE operation as
 * sqrtf, so vector and scalar loops give bit-identical results.  Vector
 * extensions have no square root; this is the one place an instruction is
 * named (SSE2's sqrtps, NEON's fsqrt), with a lane loop elsewhere.
 */
static inline __attribute__((always_inline)) AeVf4
AeSqrt4(AeVf4 x)
{
#if defined(__SSE2__)
	return (AeVf4) _mm_sqrt_ps((__m128) x);
#elif defined(__ARM_NEON) && defined(__aarch64__)
	return (AeVf4) vsqrtq_f32((float32x4_t) x);
#else
	AeVf4		r;

	for (int k = 0; k < 4; k++)
		r[k] = __builtin_sqrtf(x[k]);
	return r;
#endif
}

#endif							/* AE_SIMD_H */
