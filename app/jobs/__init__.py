"""Long work off the GUI thread: the jobs (generators driving ddrcore), the runner that
runs them in a worker thread, and the controllers that start them and take their results
into the document (loading, training and scoring, projects and exports)."""
