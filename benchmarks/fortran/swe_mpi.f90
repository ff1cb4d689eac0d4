!> Fortran 2008 + MPI baseline of the dycore shallow-water solver
!> (issue #5): the same scheme, input files, command line and JSON line as
!> benchmarks/PROTOCOL.md describes.
!>
!>   mpirun -n N swe_mpi PROBLEM_DIR --procs PX PY --steps S [--warmup W]
!>          [--repeats R] [--final FILE] [--precision float64|float32]
!>
!> Both precisions are compiled from one kind-generic source
!> (swe_solver.inc, included by swe_solver_dp and swe_solver_sp); the
!> run-time option picks the module.
program swe_mpi
  use, intrinsic :: iso_fortran_env, only: real64
  use mpi_f08
  use swe_common
  use swe_solver_dp, only: run_dp => run_solver
  use swe_solver_sp, only: run_sp => run_solver
  implicit none

  type(options_t) :: opt
  type(problem_t) :: prob
  type(tile_t) :: tile
  real(real64), allocatable :: init(:, :, :), seconds(:), rss(:)
  real(real64) :: my_rss
  integer :: ierr

  call MPI_Init(ierr)
  call parse_args(opt)
  call read_problem(opt%problem_dir, prob)
  call make_tile(prob, opt%procs, tile)
  call read_tile(opt%problem_dir, prob, tile, init)

  if (opt%precision == 'float32') then
    call run_sp(prob, tile, opt, init, seconds)
  else
    call run_dp(prob, tile, opt, init, seconds)
  end if

  my_rss = peak_rss_mib()
  allocate(rss(tile%nranks))
  call MPI_Gather(my_rss, 1, MPI_DOUBLE_PRECISION, rss, 1, MPI_DOUBLE_PRECISION, 0, &
                  tile%comm, ierr)
  if (tile%rank == 0) call print_json(prob, tile, opt, seconds, rss)
  call MPI_Finalize(ierr)
end program swe_mpi
