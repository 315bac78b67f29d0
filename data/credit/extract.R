#!/usr/bin/Rscript
# Writes credit.csv from the credit_data set of Debian's r-cran-modeldata
# (apt-get install r-cran-modeldata).  Adds an id (the row's position in the
# package's data), the split and the label; NA becomes an empty field, which
# load.sql reads as NULL.  Columns keep the package's values: the factors as
# their level names, Records (no/yes) as a boolean.
#   Rscript extract.R > credit.csv
data(credit_data, package = "modeldata")
d <- credit_data
d$id <- seq_len(nrow(d))
# a fifth of the rows (every id divisible by 5) is the test split, whatever
# their status; the model learns from the other rows whose status is good
d$split <- ifelse(d$id %% 5 == 0, "test", "train")
d$is_anomaly <- as.integer(d$Status == "bad")
d$Records <- ifelse(d$Records == "yes", "true", "false")
out <- d[, c("id", "split", "is_anomaly", "Status", "Seniority", "Home", "Time", "Age", "Marital",
             "Records", "Job", "Expenses", "Income", "Assets", "Debt", "Amount", "Price")]
names(out) <- tolower(names(out))
write.csv(out, stdout(), row.names = FALSE, na = "", quote = FALSE)
