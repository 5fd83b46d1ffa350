"""Control strategies for a solar-plus-battery EV charging station, compared on reproducible CityLearn years.

The stage commands are in `evstation.cli` (`evstation --help`); the settings in `evstation.config`;
the station as a gymnasium environment in `evstation.gym` (`evstation/Station-v0`). Importing the
package imports nothing else, so the command line answers at once.
"""

__version__ = "0.1.0"
