/*
 * ae_sample.c — the shuffle buffer and the reservoir of ae_sample.h.
 */
#include "ae_sample.h"

#include <string.h>

void
ae_shufbuf_init(AeShuffleBuf *b, float *rows, uint32_t *perm, size_t cap, int d, AeRng *rng)
{
	b->rows = rows;
	b->perm = perm;
	b->cap = cap;
	b->n = 0;
	b->d = d;
	b->rng = rng;
}

bool
ae_shufbuf_push(AeShuffleBuf *b, const float *row, float *out)
{
	size_t		row_bytes = sizeof(float) * (size_t) b->d;
	float	   *slot;

	if (b->n < b->cap)
	{
		memcpy(b->rows + b->n++ * (size_t) b->d, row, row_bytes);
		return false;
	}
	slot = b->rows + (size_t) ae_rng_below(b->rng, (uint64_t) b->cap) * b->d;
	memcpy(out, slot, row_bytes);
	memcpy(slot, row, row_bytes);
	return true;
}

size_t
ae_shufbuf_drain(AeShuffleBuf *b)
{
	size_t		n = b->n;

	for (size_t i = 0; i < n; i++)
		b->perm[i] = (uint32_t) i;
	if (n > 1)
		ae_rng_shuffle(b->rng, b->perm, (uint32_t) n);
	b->n = 0;
	return n;
}

void
ae_reservoir_init(AeReservoir *r, float *values, size_t cap, AeRng *rng)
{
	r->values = values;
	r->cap = cap;
	r->seen = 0;
	r->rng = rng;
}

void
ae_reservoir_add(AeReservoir *r, float v)
{
	/* value i (0-based) replaces a uniformly chosen one with probability cap / (i + 1) */
	if (r->seen < r->cap)
		r->values[r->seen] = v;
	else
	{
		uint64_t	j = ae_rng_below(r->rng, r->seen + 1);

		if (j < r->cap)
			r->values[j] = v;
	}
	r->seen++;
}

size_t
ae_reservoir_size(const AeReservoir *r)
{
	return r->seen < r->cap ? (size_t) r->seen : r->cap;
}
