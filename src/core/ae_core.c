/*
 * ae_core.c — status strings of the numerical core, and its one finiteness
 * test over arrays.
 */
#include "ae_core.h"

#include "ae_simd.h"

const char *
ae_status_string(AeStatus status)
{
	switch (status)
	{
		case AE_OK:
			return "success";
		case AE_ERR_NOMEM:
			return "out of memory";
		case AE_ERR_CONFIG:
			return "invalid configuration";
		case AE_ERR_DATA:
			return "invalid training data";
		case AE_ERR_NONFINITE:
			return "training diverged: the loss is not finite";
		case AE_ERR_CANCELED:
			return "training was canceled";
		case AE_ERR_FORMAT:
			return "malformed model data";
	}
	return "unknown status";
}

bool
ae_all_finite(const float *x, size_t n)
{
	const AeVi4 mask = AE_SPLAT(AeVi4, (int32_t) AE_FLOAT_EXP_MASK);
	size_t		i = 0;

	/*
	 * Sixteen floats per step as four integer vectors: a lane is non-finite
	 * when its exponent bits are all set, and the compares are OR-ed
	 * together, so there is no branch per element; blocks of 4096 give an
	 * early exit now and then.
	 */
	while (i + 16 <= n)
	{
		size_t		end = n - i < 4096 ? i + (n - i) / 16 * 16 : i + 4096;
		AeVi4		bad = {0};

		for (; i < end; i += 16)
			bad |= (((AeVi4) AeLoad4(x + i) & mask) == mask) |
				(((AeVi4) AeLoad4(x + i + 4) & mask) == mask) |
				(((AeVi4) AeLoad4(x + i + 8) & mask) == mask) |
				(((AeVi4) AeLoad4(x + i + 12) & mask) == mask);
		if ((bad[0] | bad[1] | bad[2] | bad[3]) != 0)
			return false;
	}
	for (; i < n; i++)
		if (ae_float_nonfinite(x[i]))
			return false;
	return true;
}
