-- Creates and loads the table; run psql from the data folder:
--   psql -v ON_ERROR_STOP=1 -f credit/load.sql
-- Credit applications (modeldata's credit_data, data/README.md): numbers,
-- categories, a yes/no column and real missing values (empty fields, NULL
-- here).  is_anomaly: 1 for the applications whose credit went bad.
DROP TABLE IF EXISTS credit;
DROP TYPE IF EXISTS credit_job;
CREATE TYPE credit_job AS ENUM ('fixed', 'freelance', 'others', 'partime');
CREATE TABLE credit (
  id integer PRIMARY KEY,
  split text NOT NULL,
  is_anomaly smallint NOT NULL,
  status text NOT NULL,
  seniority integer NOT NULL,    -- years with the current employer
  home text,                     -- ignore, other, owner, parents, priv, rent
  time integer NOT NULL,         -- months the credit runs
  age integer NOT NULL,
  marital text,                  -- divorced, married, separated, single, widow
  records boolean NOT NULL,      -- has a record of unpaid debts
  job credit_job,
  expenses integer NOT NULL,     -- monthly, in some hundreds of euros, like income
  income integer,
  assets integer,
  debt integer,
  amount integer NOT NULL,       -- asked for
  price integer NOT NULL         -- of the goods bought
);
\copy credit FROM 'credit/credit.csv' WITH (FORMAT csv, HEADER true)
ANALYZE credit;
