"""Beyond one machine: the lake as Iceberg tables (`iceberg`) for the engines a fleet already runs."""
