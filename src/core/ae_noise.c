/*
 * ae_noise.c — the denoising corruption of a batch (ae_corrupt, see
 * ae_nn.h): Gaussian noise or masking, drawn in index order from the
 * caller's stream, so that a seed fixes the corruption.
 */
#include <math.h>
#include <string.h>

#include "ae_nn.h"

void
ae_corrupt(const AeObjective *obj, AeRng *rng, const float *in, float *out, size_t n)
{
	/* draws in index order, so a seed fixes the corruption */
	float		level = obj->noise_level;

	switch (obj->noise)
	{
		case AE_NOISE_NONE:
			if (out != in)
				memmove(out, in, n * sizeof(float));
			break;
		case AE_NOISE_GAUSSIAN:
			{
				/* in chunks through a stack buffer: in and out may be one array */
				float		z[256];

				for (size_t i = 0; i < n; i += 256)
				{
					size_t		m = n - i < 256 ? n - i : 256;

					ae_rng_normal_floats(rng, z, m);
					for (size_t k = 0; k < m; k++)
						out[i + k] = in[i + k] + level * z[k];
				}
			}
			break;
		case AE_NOISE_MASK:
			{
				/*
				 * Element 2i takes the high 32 bits of draw i, 2i+1 the low
				 * ones; it is zeroed when they are below level·2³².  The
				 * select is done on the bits, without a branch: the outcome
				 * is random, so a branch would be mispredicted half the time.
				 */
				uint32_t	threshold = (uint32_t) fmin((double) level * 4294967296.0, 4294967295.0);

				for (size_t i = 0; i < n; i += 2)
				{
					uint64_t	bits = ae_rng_next(rng);

					for (size_t k = i; k < i + 2 && k < n; k++)
					{
						uint32_t	u = k == i ? (uint32_t) (bits >> 32) : (uint32_t) bits;
						uint32_t	keep = (uint32_t) 0 - (uint32_t) (u >= threshold);
						uint32_t	v;

						memcpy(&v, in + k, sizeof(v));
						v &= keep;
						memcpy(out + k, &v, sizeof(v));
					}
				}
			}
			break;
	}
}
