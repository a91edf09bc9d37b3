# Passed with -DCMAKE_PROJECT_INCLUDE=... when building interface packages against the ROS 2 PyPI wheels.
#
# The wheels' exported `<pkg>::<pkg>__rosidl_generator_py` targets list the include directories of the
# interpreter that built them (/opt/python/cp311-cp311/...), which do not exist here, so CMake's generate
# step fails. At the end of the top-level directory (after every find_package) this rewrites those paths
# of every imported target to this interpreter's (and its numpy's) include directories. Nothing in the venv is modified.
set(ANOMALY_SEG_WHEEL_PYTHON_PREFIX "/opt/python/cp311-cp311" CACHE STRING "interpreter prefix baked into the wheels")

function(anomaly_seg_remap_wheel_include_dirs)
  find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module NumPy)
  get_property(targets DIRECTORY "${CMAKE_SOURCE_DIR}" PROPERTY IMPORTED_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT dirs)
      continue()
    endif()
    set(fixed "")
    set(changed FALSE)
    foreach(dir IN LISTS dirs)
      string(FIND "${dir}" "${ANOMALY_SEG_WHEEL_PYTHON_PREFIX}/" at)
      if(at EQUAL 0 AND dir MATCHES "/numpy/")
        list(APPEND fixed ${Python3_NumPy_INCLUDE_DIRS})
        set(changed TRUE)
      elseif(at EQUAL 0)
        list(APPEND fixed ${Python3_INCLUDE_DIRS})
        set(changed TRUE)
      else()
        list(APPEND fixed "${dir}")
      endif()
    endforeach()
    if(changed)
      list(REMOVE_DUPLICATES fixed)
      set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${fixed}")
      message(STATUS "anomaly_seg: ${target}: include dirs -> ${fixed}")
    endif()
  endforeach()
endfunction()

cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL anomaly_seg_remap_wheel_include_dirs)
