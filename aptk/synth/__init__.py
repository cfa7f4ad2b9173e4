"""aptk.synth: scenario bank and synthetic AI-discourse document generation."""
