//! RetroVue simulator.
