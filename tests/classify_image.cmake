# ctest script for examples/classify_image.cpp (the embedding example of docs/usage.md): trains and saves
# a tiny model with the skinnet tool, writes synthetic PNGs, classifies one and checks the output format:
# three lines "<class> <probability>", known class names, probabilities in [0, 1], most probable first.
# Arguments: -DSKINNET=<skinnet tool> -DCLASSIFY=<classify_image> -DWORK=<scratch folder>
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
function(run_step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

run_step("${SKINNET}" synth --out "${WORK}/images" --per-class 1 --image-size 32 --seed 4)
run_step("${SKINNET}" train --data synth --model simple_cnn --width 0.25 --epochs 1 --batch 16
         --synth-per-class 10 --synth-size 32 --workers 1 --out "${WORK}/run" --no-progress)
file(GLOB images "${WORK}/images/mel/*.png")
list(GET images 0 image)
run_step("${CLASSIFY}" "${WORK}/run/best.safetensors" "${image}")
message(STATUS "classify_image output:\n${step_output}")

string(REGEX MATCHALL "[^\n]+" lines "${step_output}")
list(LENGTH lines n)
if(NOT n EQUAL 3)
  message(FATAL_ERROR "expected 3 lines, got ${n}:\n${step_output}")
endif()
set(previous 2)
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^(akiec|bcc|bkl|df|mel|nv|vasc) ([01]\\.[0-9][0-9][0-9][0-9])$")
    message(FATAL_ERROR "line '${line}' is not '<class> <probability>'")
  endif()
  set(p "${CMAKE_MATCH_2}")
  if(p GREATER previous)
    message(FATAL_ERROR "probabilities are not in decreasing order:\n${step_output}")
  endif()
  set(previous "${p}")
endforeach()

# A missing model file: non-zero exit and an error naming the file.
execute_process(COMMAND "${CLASSIFY}" "${WORK}/missing.safetensors" "${image}" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "missing.safetensors")
  message(FATAL_ERROR "a missing model gave exit ${rc} and '${err}'")
endif()
