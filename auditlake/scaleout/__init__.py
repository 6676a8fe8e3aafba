"""Beyond one machine: the lake for the engines a fleet already runs.

Owns: `iceberg` (the lake's files as Iceberg tables in an SQL catalog, in place, kept in step with the manifest),
`dialect` (DuckDB SQL of the query library → Spark SQL on sqlglot trees: macros expanded, parameters bound,
function fixes) and `spark` (registering a lake's `events`, `findings` and shared views in a SparkSession, and
running saved queries there). pyiceberg, pyspark and sqlglot are imported only when used; never imports the
`Lake` façade; only `iceberg` writes into a lake (its `_iceberg/` directory).
"""
