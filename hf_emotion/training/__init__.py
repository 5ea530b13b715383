"""Fine-tuning: the recipe's steps in order, the Trainer, heads, class mixing, checkpoints, the plan checked before decoding, the final model, publishing."""
