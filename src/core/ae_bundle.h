/*
 * ae_bundle.h — a trained model with everything scoring needs, and its
 * binary format.
 *
 * A bundle is what the catalog stores (bytea column) and what the ae_model
 * SQL type carries (a varlena with the same bytes), so ae_fit's result and a
 * catalog row are interchangeable.  The format is versioned, self-checking
 * and parsed defensively: the deserialiser is pure C so that it can be
 * fuzzed without a server.
 *
 * Layout (little-endian throughout, documented in doc/how-it-works.md):
 *   magic "AENC" | u16 format_version | u16 flags | u32 payload_length |
 *   u32 checksum (CRC-32C of the payload) | payload
 */
#ifndef AE_BUNDLE_H
#define AE_BUNDLE_H

#include "ae_nn.h"
#include "ae_norm.h"
#include "ae_train.h"

#define AE_BUNDLE_MAGIC			"AENC"
#define AE_BUNDLE_FORMAT_VERSION 1
#define AE_BUNDLE_N_QUANTILES	101 /* error quantiles at 0%, 1%, …, 100% */

typedef struct AeBundle
{
	AeArch		arch;
	float	   *params;			/* ae_arch_param_count(&arch) floats */

	AeNormMethod norm_method;
	float	   *norm_offset;	/* n_inputs: normalised = (x - offset) / scale */
	float	   *norm_scale;		/* n_inputs, never 0 */
	float	   *feature_mean;	/* n_inputs, training mean in original units (missing-value imputation) */

	/* anomaly threshold and the training-error distribution (normalised-space MSE) */
	double		contamination;	/* share of training rows above threshold */
	double		threshold;
	double		quantiles[AE_BUNDLE_N_QUANTILES];

	/* how it was trained */
	int64_t		n_rows;			/* rows used (train + validation) */
	int			epochs_run;
	double		train_loss;
	double		val_loss;		/* NaN without validation rows */
	int			n_history;
	AeEpochStats *history;		/* n_history entries */

	/*
	 * The full configuration actually used, defaults filled in, as a JSON
	 * object text (the SQL layer stores it as jsonb), and the input column
	 * names for named-column models: n_columns NUL-terminated strings laid
	 * end to end in columns (NULL / 0 for array-input models).
	 */
	char	   *config_json;
	int			n_columns;
	char	   *columns;
	size_t		columns_len;	/* bytes of columns, terminators included */
} AeBundle;

/* Bytes ae_bundle_serialize will write. */
size_t		ae_bundle_serialized_size(const AeBundle *bundle);

/* Write the bundle into out (ae_bundle_serialized_size bytes). */
void		ae_bundle_serialize(const AeBundle *bundle, uint8_t *out);

/*
 * Parse len bytes into *bundle; every pointer in it is allocated from al.
 * Checks magic, version, lengths, checksum, the architecture (ae_arch_validate)
 * and that every number is finite; AE_ERR_FORMAT with a message otherwise.
 * Never reads outside buf.
 */
AeStatus	ae_bundle_deserialize(const uint8_t *buf, size_t len, AeBundle *bundle,
								  const AeAllocator *al, char *errbuf);

#endif							/* AE_BUNDLE_H */
