-- Inputs the fuzzers (test/fuzz) found mishandled, each kept as a
-- regression case.  One transaction, rolled back: the other tests see no
-- trace of these models (the audit log).
BEGIN;

-- A configuration number beyond double precision (JSON allows 1e400) broke
-- the ae_models view for everybody who could see the model: the variant
-- labels cast it to float8 (22003).
SELECT ae_import(jsonb_build_object(
    'format', 'autoenc', 'format_version', 1, 'n_inputs', 2,
    'layers', jsonb '[{"activation": "linear", "weight": [[1, 0]], "bias": [0]},
                      {"activation": "linear", "weight": [[1], [0]], "bias": [0, 0]}]',
    'normalization', jsonb '{"method": "none"}',
    'config', c), n)
FROM (VALUES ('ff_huge', jsonb '{"l1_activity": 1e400, "noise": "none"}'),
             ('ff_tiny', jsonb '{"contractive": 1e-400, "sparsity_weight": -1e400}')) AS v(n, c);
SELECT name, variant FROM ae_models WHERE name LIKE 'ff\_%' ORDER BY name;

ROLLBACK;
