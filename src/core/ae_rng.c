/*
 * ae_rng.c — xoshiro256** (Blackman & Vigna, 2018) with splitmix64 seeding.
 */
#include "ae_rng.h"

#include <math.h>

#define AE_TWO_PI 6.283185307179586476925286766559

static uint64_t
SplitMix64(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static inline uint64_t
Rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void
ae_rng_seed(AeRng *rng, uint64_t seed)
{
	uint64_t	st = seed;

	/* splitmix64 never yields an all-zero xoshiro state from any seed */
	for (int i = 0; i < 4; i++)
		rng->s[i] = SplitMix64(&st);
	rng->has_spare = 0;
	rng->spare = 0.0;
}

uint64_t
ae_rng_next(AeRng *rng)
{
	uint64_t   *s = rng->s;
	uint64_t	result = Rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = Rotl(s[3], 45);
	return result;
}

double
ae_rng_uniform(AeRng *rng)
{
	return (double) (ae_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t
ae_rng_below(AeRng *rng, uint64_t n)
{
	/* reject the top partial bucket so every value is equally likely */
	uint64_t	limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t	r;

	do
		r = ae_rng_next(rng);
	while (r >= limit);
	return r % n;
}

double
ae_rng_normal(AeRng *rng)
{
	double		u1,
				u2,
				radius;

	if (rng->has_spare)
	{
		rng->has_spare = 0;
		return rng->spare;
	}
	/* u1 in (0, 1]: log(0) must never happen */
	u1 = 1.0 - ae_rng_uniform(rng);
	u2 = ae_rng_uniform(rng);
	radius = sqrt(-2.0 * log(u1));
	rng->spare = radius * sin(AE_TWO_PI * u2);
	rng->has_spare = 1;
	return radius * cos(AE_TWO_PI * u2);
}

void
ae_rng_shuffle(AeRng *rng, uint32_t *idx, uint32_t n)
{
	for (uint32_t i = n; i > 1; i--)
	{
		uint32_t	j = (uint32_t) ae_rng_below(rng, i);
		uint32_t	tmp = idx[i - 1];

		idx[i - 1] = idx[j];
		idx[j] = tmp;
	}
}
