"""The ROS 2 shell: the rclpy nodes (``node``, ``eval_node``, ``player``), their parameter declarations, the DDS
profile and the launch plan. The only package that imports rclpy; everything it runs lives in the layers below."""
