/*
 * ae_simd.h — four-float vectors for the elementwise loops of the core.
 *
 * PostgreSQL compiles extensions with -O2, where GCC's auto-vectoriser
 * leaves loops with selects or unknown trip counts scalar.  The elementwise
 * passes of training are a large share of a step on small networks, so the
 * loss, the code-layer regularisers and the contractive tangents are
 * written on GCC/Clang vector extensions instead (the activations have
 * their own width-templated kernels, ae_act_kernels.h).  Four floats are
 * one register on every 64-bit target (SSE2 is baseline x86-64, NEON on
 * arm64): no -m flags, no ABI issue.  Not part of the core's interface.
 */
#ifndef AE_SIMD_H
#define AE_SIMD_H

#include <stdint.h>
#include <string.h>

#define AE_VL 4					/* floats per vector: one SSE/NEON register */

typedef float AeVf __attribute__((vector_size(16)));
typedef int32_t AeVi __attribute__((vector_size(16)));

#define VF(c) ((AeVf) {(c), (c), (c), (c)})
#define VI(c) ((AeVi) {(c), (c), (c), (c)})

/* ---------------------------------------------------------------- vector helpers */

static inline AeVf
LoadV(const float *p)
{
	AeVf		v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void
StoreV(float *p, AeVf v)
{
	memcpy(p, &v, sizeof(v));
}

/* The first k (< AE_VL) floats; the other lanes are zero. */
static inline AeVf
LoadPartV(const float *p, int k)
{
	AeVf		v = VF(0.0f);

	memcpy(&v, p, sizeof(float) * k);
	return v;
}

static inline void
StorePartV(float *p, AeVf v, int k)
{
	memcpy(p, &v, sizeof(float) * k);
}

/* mask ? a : b, lane by lane (mask lanes are all ones or all zeros) */
static inline AeVf
SelectV(AeVi mask, AeVf a, AeVf b)
{
	return (AeVf) (((AeVi) a & mask) | ((AeVi) b & ~mask));
}

static inline AeVf
AbsV(AeVf x)
{
	return (AeVf) ((AeVi) x & VI(0x7fffffff));
}

/* |t| carrying the sign of s */
static inline AeVf
CopySignV(AeVf t, AeVf s)
{
	return (AeVf) (((AeVi) t & VI(0x7fffffff)) | ((AeVi) s & VI((int32_t) 0x80000000)));
}

/* Lanes of v added in double, in a fixed order. */
static inline double
SumV(AeVf v)
{
	return ((double) v[0] + (double) v[1]) + ((double) v[2] + (double) v[3]);
}

#endif							/* AE_SIMD_H */
