"""ganutils: data, models, a Keras 3 `train_on_batch` GAN loop, pictures and a command line.

The course's notebooks import its modules (`ganutils.data`, `ganutils.models`,
`ganutils.training`, `ganutils.plotting`, `ganutils.sampling`); importing the package itself
loads no TensorFlow, so the command line can check its arguments first.
"""

__version__ = "0.1.0"
