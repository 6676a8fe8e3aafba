"""Scale-out engines: the lake's saved queries on Spark (and, beside it, publishing the lake to other engines).

Owns: `dialect` (DuckDB SQL of the query library → Spark SQL on sqlglot trees: macros expanded, parameters bound,
function fixes) and `spark` (registering a lake's `events`, `findings` and shared views in a SparkSession, and
running saved queries there). pyspark and sqlglot are imported only when used; never imports the `Lake` façade,
never writes into a lake.
"""
