-- Creates and loads the table; run psql from the data folder:
--   psql -v ON_ERROR_STOP=1 -f wdbc/load.sql
DROP TABLE IF EXISTS wdbc;
CREATE TABLE wdbc (
  id integer PRIMARY KEY,
  split text NOT NULL,
  is_anomaly smallint NOT NULL,
  orig_class text NOT NULL,
  mean_radius double precision NOT NULL,
  mean_texture double precision NOT NULL,
  mean_perimeter double precision NOT NULL,
  mean_area double precision NOT NULL,
  mean_smoothness double precision NOT NULL,
  mean_compactness double precision NOT NULL,
  mean_concavity double precision NOT NULL,
  mean_concave_points double precision NOT NULL,
  mean_symmetry double precision NOT NULL,
  mean_fractal_dimension double precision NOT NULL,
  radius_error double precision NOT NULL,
  texture_error double precision NOT NULL,
  perimeter_error double precision NOT NULL,
  area_error double precision NOT NULL,
  smoothness_error double precision NOT NULL,
  compactness_error double precision NOT NULL,
  concavity_error double precision NOT NULL,
  concave_points_error double precision NOT NULL,
  symmetry_error double precision NOT NULL,
  fractal_dimension_error double precision NOT NULL,
  worst_radius double precision NOT NULL,
  worst_texture double precision NOT NULL,
  worst_perimeter double precision NOT NULL,
  worst_area double precision NOT NULL,
  worst_smoothness double precision NOT NULL,
  worst_compactness double precision NOT NULL,
  worst_concavity double precision NOT NULL,
  worst_concave_points double precision NOT NULL,
  worst_symmetry double precision NOT NULL,
  worst_fractal_dimension double precision NOT NULL
);
\copy wdbc FROM 'wdbc/wdbc.csv' WITH (FORMAT csv, HEADER true)
ANALYZE wdbc;
