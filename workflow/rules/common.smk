# Helpers shared by the rules: the parameter values a stage reads, so Snakemake reruns it when
# any of them changes (dvc.yaml lists the same keys under `params:`).

PACKAGE = "src/evstation"


def param_values(*keys):
    """The values of top-level params.yaml sections, as one dict Snakemake can compare between runs."""
    return {key: config[key] for key in keys}


def package_files(*names):
    """Source files of the package a stage runs: editing one reruns the stage."""
    return [f"{PACKAGE}/{name}" for name in names]
