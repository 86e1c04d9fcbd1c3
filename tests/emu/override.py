"""How the emulator patches moto: a function replaces the method of the same name."""


def methods(cls, *functions) -> None:
    """Sets each function as the method of `cls` named like the function."""
    for function in functions:
        setattr(cls, function.__name__, function)
