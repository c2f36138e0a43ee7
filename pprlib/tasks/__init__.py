"""The paper's two further tasks, each built on the pre-trained backbone of the main study:
cross-domain recommendation (:mod:`pprlib.tasks.cross_domain`) and user-profile prediction
(:mod:`pprlib.tasks.profile_prediction`)."""
