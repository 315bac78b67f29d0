/*
 * ae_rng.h — the one pseudo-random generator of the core.
 *
 * xoshiro256** seeded through splitmix64: fast, statistically solid, and
 * above all reproducible on every platform, which is what "same seed, same
 * model" needs.  (rand() and random() differ between libcs.)
 */
#ifndef AE_RNG_H
#define AE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct AeRng
{
	uint64_t	s[4];
} AeRng;

void		ae_rng_seed(AeRng *rng, uint64_t seed);
uint64_t	ae_rng_next(AeRng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double		ae_rng_uniform(AeRng *rng);
/* Uniform integer in [0, n), unbiased (rejection sampling); n > 0. */
uint64_t	ae_rng_below(AeRng *rng, uint64_t n);
/*
 * n standard normals as floats, by the ziggurat method (Marsaglia & Tsang,
 * 2000; 256 layers): one draw and one comparison for 99% of the samples,
 * which makes denoising noise several times cheaper than Box–Muller.  The
 * distribution is exact (rejection sampling), tail included.
 */
void		ae_rng_normal_floats(AeRng *rng, float *z, size_t n);
/* Fisher–Yates shuffle of idx[0..n). */
void		ae_rng_shuffle(AeRng *rng, uint32_t *idx, uint32_t n);

#endif							/* AE_RNG_H */
