"""Node core: frame message -> typed outputs -> messages; runner, parameters, health. No rclpy."""
