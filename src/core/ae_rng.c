/*
 * ae_rng.c — xoshiro256** (Blackman & Vigna, 2018) with splitmix64 seeding.
 */
#include "ae_rng.h"

#include <math.h>


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

/*
 * Ziggurat tables: layer i spans [0, X[i]) with the density f(x) = exp(-x²/2)
 * between F[i] = f(X[i]) and F[i+1]; every layer (the base strip with its
 * tail included) has the same area V, so a uniform layer index is fair.
 * X[0] is the base strip's virtual width V / f(R).  R and V for 256 layers
 * are Marsaglia & Tsang's; the tables are computed once, deterministically.
 */
#define ZIG_LAYERS	256
#define ZIG_R		3.6541528853610088
#define ZIG_V		0.00492867323399

static double ZigX[ZIG_LAYERS + 1];
static double ZigF[ZIG_LAYERS + 1];
static int	ZigReady = 0;

static void
ZigInit(void)
{
	ZigX[0] = ZIG_V / exp(-0.5 * ZIG_R * ZIG_R);
	ZigX[1] = ZIG_R;
	for (int i = 2; i < ZIG_LAYERS; i++)
		ZigX[i] = sqrt(-2.0 * log(ZIG_V / ZigX[i - 1] + exp(-0.5 * ZigX[i - 1] * ZigX[i - 1])));
	ZigX[ZIG_LAYERS] = 0.0;
	for (int i = 0; i <= ZIG_LAYERS; i++)
		ZigF[i] = exp(-0.5 * ZigX[i] * ZigX[i]);
	ZigReady = 1;
}

static double
ZigNormal(AeRng *rng)
{
	for (;;)
	{
		uint64_t	bits = ae_rng_next(rng);
		int			i = (int) (bits & 0xff);
		/* the top 53 bits, as a uniform in (-1, 1) */
		double		u = (double) (bits >> 11) * 0x1.0p-52 - 1.0;
		double		x = u * ZigX[i];

		if (fabs(x) < ZigX[i + 1])
			return x;			/* inside the layer's rectangle: accept */
		if (i == 0)
		{
			/* the tail beyond R (Marsaglia, 1964) */
			double		tx,
						ty;

			do
			{
				tx = -log(1.0 - ae_rng_uniform(rng)) / ZIG_R;
				ty = -log(1.0 - ae_rng_uniform(rng));
			} while (2.0 * ty < tx * tx);
			return u < 0 ? -(ZIG_R + tx) : ZIG_R + tx;
		}
		/* the wedge between the rectangle and the curve */
		if (ZigF[i + 1] + (ZigF[i] - ZigF[i + 1]) * ae_rng_uniform(rng) < exp(-0.5 * x * x))
			return x;
	}
}

void
ae_rng_normal_floats(AeRng *rng, float *z, size_t n)
{
	if (!ZigReady)
		ZigInit();
	for (size_t k = 0; k < n; k++)
		z[k] = (float) ZigNormal(rng);
}
