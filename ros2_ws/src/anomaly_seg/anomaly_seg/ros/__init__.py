"""ROS 2 side: message conversions (``messages``), parameters, NodeCore and the rclpy shell (``node``).

Only ``anomaly_seg.ros.node`` imports rclpy; everything else here runs without a ROS installation.
"""
