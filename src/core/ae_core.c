/*
 * ae_core.c — status strings of the numerical core.
 */
#include "ae_core.h"

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
	size_t		i = 0;

	/* blocks of 4096: an early exit now and then, no branch per element */
	while (i < n)
	{
		size_t		end = n - i < 4096 ? n : i + 4096;
		uint32_t	bad = 0;

		for (; i < end; i++)
			bad |= (uint32_t) ae_float_nonfinite(x[i]);
		if (bad)
			return false;
	}
	return true;
}
